################################################################################
# Cluster
################################################################################

resource "aws_ecs_cluster" "this" {
  name = var.name

  setting {
    name  = "containerInsights"
    value = var.container_insights ? "enabled" : "disabled"
  }

  # `aws ecs execute-command` sessions are audited to this log group when set.
  dynamic "configuration" {
    for_each = var.execute_command_log_group_name == null ? [] : [1]

    content {
      execute_command_configuration {
        logging = "OVERRIDE"

        log_configuration {
          cloud_watch_log_group_name = var.execute_command_log_group_name
        }
      }
    }
  }

  tags = merge(var.tags, { Name = var.name })
}

################################################################################
# Capacity Providers
################################################################################

# Fargate only: no EC2 instances to patch. FARGATE_SPOT is available for services
# that opt in with their own capacity_provider_strategy.
resource "aws_ecs_cluster_capacity_providers" "this" {
  cluster_name = aws_ecs_cluster.this.name

  capacity_providers = var.enable_fargate_spot ? ["FARGATE", "FARGATE_SPOT"] : ["FARGATE"]

  default_capacity_provider_strategy {
    capacity_provider = "FARGATE"
    base              = 1
    weight            = 100
  }
}
