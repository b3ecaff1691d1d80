################################################################################
# Service
################################################################################

resource "aws_ecs_service" "this" {
  name            = var.name
  cluster         = var.cluster_arn
  task_definition = var.task_definition_arn
  desired_count   = var.desired_count

  launch_type      = "FARGATE"
  platform_version = var.platform_version

  # Tasks live in private subnets with no public IP: inbound only through the load
  # balancer, outbound (ECR pulls, logs) only through the NAT gateway. A task with
  # assign_public_ip = false in a subnet without a NAT route cannot pull its image.
  network_configuration {
    subnets          = var.subnet_ids
    security_groups  = var.security_group_ids
    assign_public_ip = false
  }

  dynamic "load_balancer" {
    for_each = var.target_group_arn == null ? [] : [1]

    content {
      target_group_arn = var.target_group_arn
      container_name   = var.container_name
      container_port   = var.container_port
    }
  }

  # Time for the app to start before failed ALB health checks count against a task.
  health_check_grace_period_seconds = var.target_group_arn == null ? null : var.health_check_grace_period_seconds

  deployment_minimum_healthy_percent = var.deployment_minimum_healthy_percent
  deployment_maximum_percent         = var.deployment_maximum_percent

  # A deployment whose tasks keep failing to start or to pass health checks is
  # stopped and the service returns to the last deployment that reached steady state,
  # instead of retrying forever.
  deployment_circuit_breaker {
    enable   = true
    rollback = var.enable_rollback
  }

  deployment_controller {
    type = "ECS"
  }

  enable_ecs_managed_tags = true
  propagate_tags          = "SERVICE"
  enable_execute_command  = var.enable_execute_command

  # Makes `terraform apply` return only once the new tasks are healthy, so a failed
  # rollout fails the pipeline that caused it.
  wait_for_steady_state = var.wait_for_steady_state

  tags = merge(var.tags, { Name = var.name })

  timeouts {
    create = "20m"
    update = "20m"
    delete = "20m"
  }

  lifecycle {
    precondition {
      condition     = var.target_group_arn == null || var.container_name != null
      error_message = "A load-balanced service needs container_name (ecs-task-definition output container_name)."
    }
  }
}
