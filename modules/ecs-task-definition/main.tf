data "aws_region" "current" {}

locals {
  # Pinning by digest makes a task definition mean exactly one image: a pushed-over
  # tag can never change what runs, and a rollback redeploys the same bytes.
  image          = "${var.image_repository_url}@${var.image_digest}"
  container_name = coalesce(var.container_name, var.family)
  log_group_name = coalesce(var.log_group_name, "/ecs/${var.family}")
}

################################################################################
# Log Group
################################################################################

# The awslogs driver does not create its group unless the execution role may
# logs:CreateLogGroup; creating it here keeps that permission out of the role and
# gives the logs a retention instead of "never expire".
resource "aws_cloudwatch_log_group" "this" {
  #checkov:skip=CKV_AWS_338:Retention is the log_retention_days input: 30 days by default for dev, 365 in prod (project.kdl env "prod").
  #checkov:skip=CKV_AWS_158:KMS is the log_kms_key_arn input; without it CloudWatch Logs encrypts at rest with its own key.
  count = var.create_log_group ? 1 : 0

  name              = local.log_group_name
  retention_in_days = var.log_retention_days
  kms_key_id        = var.log_kms_key_arn

  tags = merge(var.tags, { Name = local.log_group_name })
}

################################################################################
# Task Definition
################################################################################

resource "aws_ecs_task_definition" "this" {
  family                   = var.family
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = var.cpu
  memory                   = var.memory

  # Two roles, two principals, two moments:
  # - execution_role_arn: used by the ECS agent BEFORE the app starts, to pull the
  #   image from ECR, create log streams and fetch `secrets`. Wrong or missing:
  #   CannotPullContainerError / ResourceInitializationError, the task never runs.
  # - task_role_arn: assumed by the application code itself for its own AWS calls.
  #   Missing: the app starts but its SDK calls get AccessDenied.
  execution_role_arn = var.execution_role_arn
  task_role_arn      = var.task_role_arn

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = var.cpu_architecture
  }

  container_definitions = jsonencode([merge(
    {
      name      = local.container_name
      image     = local.image
      essential = true

      portMappings = [
        {
          name          = local.container_name
          containerPort = var.container_port
          protocol      = "tcp"
          appProtocol   = "http"
        }
      ]

      # Sorted by key so the JSON (and the task definition revision) is stable.
      environment = [for k in sort(keys(var.environment)) : { name = k, value = var.environment[k] }]
      secrets     = [for k in sort(keys(var.secrets)) : { name = k, valueFrom = var.secrets[k] }]

      readonlyRootFilesystem = var.readonly_root_filesystem
      stopTimeout            = var.stop_timeout

      # PID 1 in a container ignores SIGTERM unless it installs a handler, so a
      # static binary FROM scratch would only die by SIGKILL after stopTimeout,
      # slowing every deployment. ECS's init process forwards the signal instead.
      linuxParameters = {
        initProcessEnabled = var.init_process_enabled
      }

      logConfiguration = {
        logDriver = "awslogs"
        options = {
          awslogs-group         = local.log_group_name
          awslogs-region        = data.aws_region.current.name
          awslogs-stream-prefix = local.container_name
        }
      }
    },
    # Images FROM scratch have no shell or curl, so a container health check must exec
    # the app itself; by default the ALB health check is the only one. Added only when
    # set: a JSON null here shows up as a perpetual diff.
    {
      for k, v in {
        healthCheck = {
          command     = var.health_check_command
          interval    = 15
          timeout     = 5
          retries     = 3
          startPeriod = 10
        }
      } : k => v if var.health_check_command != null
    },
  )])

  # Keep old revisions registered so a rollback can point the service back at them.
  skip_destroy = var.skip_destroy

  tags = merge(var.tags, { Name = var.family })

  depends_on = [aws_cloudwatch_log_group.this]
}
