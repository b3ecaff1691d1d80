data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition
  region     = data.aws_region.current.name

  # SSM parameters are named by path in project.kdl (`from="ssm:/shop/api-key"`); IAM
  # needs their ARNs, in this account and region.
  ssm_parameter_arns = [
    for name in var.ssm_parameter_names :
    "arn:${local.partition}:ssm:${local.region}:${local.account_id}:parameter${name}"
  ]

  log_group_arns = length(var.log_group_arns) > 0 ? var.log_group_arns : [
    "arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:/ecs/${var.name}-*",
  ]
}

################################################################################
# Task Execution Role
################################################################################

# Assumed by the ECS agent, not by the application. The aws:SourceAccount condition
# stops another account's ECS from using this trust (confused deputy).
data "aws_iam_policy_document" "ecs_tasks_assume" {
  statement {
    sid     = "EcsTasksAssume"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["ecs-tasks.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_iam_role" "execution" {
  name                 = "${var.name}-ecs-execution"
  description          = "ECS agent: pull images from ECR, write logs, read task secrets"
  assume_role_policy   = data.aws_iam_policy_document.ecs_tasks_assume.json
  permissions_boundary = var.permissions_boundary_arn

  tags = merge(var.tags, { Name = "${var.name}-ecs-execution" })
}

data "aws_iam_policy_document" "execution" {
  # Without it: CannotPullContainerError "no basic auth credentials". The token is
  # account-wide, so this action has no resource-level scoping.
  statement {
    sid       = "EcrAuthToken"
    actions   = ["ecr:GetAuthorizationToken"]
    resources = ["*"]
  }

  # Without it: CannotPullContainerError "... is not authorized to perform
  # ecr:BatchGetImage". Scoped to this project's repositories.
  statement {
    sid = "EcrPull"
    actions = [
      "ecr:BatchCheckLayerAvailability",
      "ecr:BatchGetImage",
      "ecr:GetDownloadUrlForLayer",
    ]
    resources = var.ecr_repository_arns
  }

  # Without it: ResourceInitializationError "failed to validate logger args" and the
  # task stops before the app starts. The log groups themselves are created by
  # Terraform (ecs-task-definition), so CreateLogGroup is not granted.
  statement {
    sid       = "Logs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = [for arn in local.log_group_arns : "${trimsuffix(arn, ":*")}:*"]
  }

  # Without it: ResourceInitializationError "unable to pull secrets or registry auth".
  # Exactly the secrets the task definitions reference, each with the one read ECS makes.
  dynamic "statement" {
    for_each = length(var.secret_arns) > 0 ? [1] : []

    content {
      sid       = "TaskSecrets"
      actions   = ["secretsmanager:GetSecretValue"]
      resources = var.secret_arns
    }
  }

  dynamic "statement" {
    for_each = length(local.ssm_parameter_arns) > 0 ? [1] : []

    content {
      sid       = "TaskParameters"
      actions   = ["ssm:GetParameters"]
      resources = local.ssm_parameter_arns
    }
  }

  dynamic "statement" {
    for_each = length(var.secret_kms_key_arns) > 0 ? [1] : []

    content {
      sid       = "DecryptSecrets"
      actions   = ["kms:Decrypt"]
      resources = var.secret_kms_key_arns
    }
  }
}

resource "aws_iam_role_policy" "execution" {
  name   = "ecr-pull-logs-secrets"
  role   = aws_iam_role.execution.id
  policy = data.aws_iam_policy_document.execution.json
}

################################################################################
# Task Role
################################################################################

# Assumed by the application inside the container. Empty by default: the sample app
# calls no AWS API. Give it permissions here, never on the execution role.
resource "aws_iam_role" "task" {
  name                 = "${var.name}-ecs-task"
  description          = "Application running in the ECS tasks"
  assume_role_policy   = data.aws_iam_policy_document.ecs_tasks_assume.json
  permissions_boundary = var.permissions_boundary_arn

  tags = merge(var.tags, { Name = "${var.name}-ecs-task" })
}

resource "aws_iam_role_policy" "task" {
  count = var.task_role_policy_json == null ? 0 : 1

  name   = "application"
  role   = aws_iam_role.task.id
  policy = var.task_role_policy_json
}

################################################################################
# Deploy Role
################################################################################

# Trusting the account root with an aws:PrincipalArn condition (rather than naming
# the principals directly) lets the trusted roles be created after this one: IAM
# rejects a trust policy naming a role that does not exist yet ("Invalid principal
# in policy"), and the Jenkins role needs this role's ARN, which would be a cycle.
data "aws_iam_policy_document" "deploy_assume" {
  count = var.create_deploy_role ? 1 : 0

  statement {
    sid     = "CdAssume"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${local.account_id}:root"]
    }

    condition {
      test     = "ArnLike"
      variable = "aws:PrincipalArn"
      values   = var.deploy_role_trusted_principal_arns
    }
  }
}

resource "aws_iam_role" "deploy" {
  count = var.create_deploy_role ? 1 : 0

  name                 = "${var.name}-deploy"
  description          = "CD pipeline: terraform plan/apply and ECS rollouts"
  assume_role_policy   = data.aws_iam_policy_document.deploy_assume[0].json
  max_session_duration = var.deploy_role_max_session_duration
  permissions_boundary = var.permissions_boundary_arn

  tags = merge(var.tags, { Name = "${var.name}-deploy" })

  lifecycle {
    precondition {
      condition     = length(var.deploy_role_trusted_principal_arns) > 0
      error_message = "deploy_role_trusted_principal_arns is empty: nobody could assume the deploy role. Pass the Jenkins role ARN."
    }
    precondition {
      condition     = var.state_bucket_arn != null
      error_message = "The deploy role runs terraform and needs the state bucket: pass state_bucket_arn (remote-backend output bucket_arn)."
    }
  }
}

data "aws_iam_policy_document" "deploy" {
  count = var.create_deploy_role ? 1 : 0

  # --- Remote state -------------------------------------------------------------

  # Without it: "Error refreshing state: AccessDenied" on terraform init/plan.
  dynamic "statement" {
    for_each = var.state_bucket_arn == null ? [] : [1]

    content {
      sid       = "StateBucketList"
      actions   = ["s3:ListBucket"]
      resources = [var.state_bucket_arn]
    }
  }

  # Get/Put the state; Delete is for the S3 native lock file (use_lockfile), which
  # terraform removes on unlock: without it the lock is never released.
  dynamic "statement" {
    for_each = var.state_bucket_arn == null ? [] : [1]

    content {
      sid       = "StateObjects"
      actions   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]
      resources = ["${var.state_bucket_arn}/${var.state_key_prefix}*"]
    }
  }

  # Without it: "Error acquiring the state lock: AccessDeniedException ... dynamodb:PutItem".
  dynamic "statement" {
    for_each = var.lock_table_arn == null ? [] : [1]

    content {
      sid       = "StateLock"
      actions   = ["dynamodb:DescribeTable", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:DeleteItem"]
      resources = [var.lock_table_arn]
    }
  }

  # --- Reads terraform plan needs (refresh of every managed resource) -------------

  # EC2/ELB Describe* calls cannot be scoped to resources. Named because they broke
  # the seed project's plans:
  # - ec2:DescribeVpcAttribute: refresh of aws_vpc reads enable_dns_support/hostnames;
  #   without it: "reading EC2 VPC (vpc-...) Attribute (enableDnsSupport): UnauthorizedOperation".
  # - elasticloadbalancing:DescribeLoadBalancerAttributes: refresh of aws_lb reads
  #   idle_timeout, deletion protection...; without it: "reading ELBv2 Load Balancer
  #   (...) attributes: AccessDenied".
  # The rest of Describe* covers subnets, route tables, NAT, SGs, rules, target
  # groups, listeners, tags, AZs and EC2 instances.
  statement {
    sid = "PlanReadNetworkAndLoadBalancers"
    actions = [
      "ec2:Describe*",
      "ec2:GetManagedPrefixListEntries",
      "elasticloadbalancing:Describe*",
    ]
    resources = ["*"]
  }

  # Without these: "reading ECS Service/Task Definition/Cluster: AccessDeniedException".
  statement {
    sid = "PlanReadEcs"
    actions = [
      "ecs:DescribeClusters",
      "ecs:DescribeServices",
      "ecs:DescribeTaskDefinition",
      "ecs:DescribeCapacityProviders",
      "ecs:ListTagsForResource",
      "ecs:ListTaskDefinitions",
      "ecs:ListServices",
    ]
    resources = ["*"]
  }

  # Without these: refresh of aws_ecr_repository / aws_ecr_lifecycle_policy fails.
  statement {
    sid = "PlanReadEcr"
    actions = [
      "ecr:DescribeRepositories",
      "ecr:DescribeImages",
      "ecr:GetLifecyclePolicy",
      "ecr:GetRepositoryPolicy",
      "ecr:ListTagsForResource",
    ]
    resources = ["*"]
  }

  # Without these: refresh of aws_cloudwatch_log_group fails.
  statement {
    sid       = "PlanReadLogs"
    actions   = ["logs:DescribeLogGroups", "logs:ListTagsForResource", "logs:ListTagsLogGroup"]
    resources = ["*"]
  }

  # jenkins-ec2 looks up the Amazon Linux AMI in AWS's public SSM parameters; without
  # this a plan that includes it fails with "reading SSM Parameter ...: AccessDenied".
  statement {
    sid       = "PlanReadPublicAmiParameters"
    actions   = ["ssm:GetParameter", "ssm:GetParameters"]
    resources = ["arn:${local.partition}:ssm:${local.region}::parameter/aws/service/*"]
  }

  # iam:GetPolicyVersion broke the seed project's plans: refreshing an aws_iam_policy
  # (or a role with attached managed policies) reads the default version's document;
  # without it: "reading IAM Policy Version (...): AccessDenied". Get/List on roles
  # cover aws_iam_role, aws_iam_role_policy and attachments.
  statement {
    sid = "PlanReadIam"
    actions = [
      "iam:GetRole",
      "iam:GetRolePolicy",
      "iam:ListRolePolicies",
      "iam:ListAttachedRolePolicies",
      "iam:ListRoleTags",
      "iam:GetPolicy",
      "iam:GetPolicyVersion",
      "iam:ListPolicyVersions",
      "iam:ListPolicyTags",
      "iam:GetInstanceProfile",
      "iam:ListInstanceProfilesForRole",
    ]
    resources = [
      "arn:${local.partition}:iam::${local.account_id}:role/*",
      "arn:${local.partition}:iam::${local.account_id}:policy/*",
      "arn:${local.partition}:iam::${local.account_id}:instance-profile/*",
      "arn:${local.partition}:iam::aws:policy/*",
    ]
  }

  # --- Rollout: new task definition revision + service update ------------------------

  statement {
    sid = "EcsRollout"
    actions = [
      "ecs:RegisterTaskDefinition",
      "ecs:DeregisterTaskDefinition",
      "ecs:TagResource",
    ]
    # RegisterTaskDefinition does not support resource-level permissions.
    resources = ["*"]
  }

  statement {
    sid       = "EcsUpdateService"
    actions   = ["ecs:UpdateService"]
    resources = ["arn:${local.partition}:ecs:${local.region}:${local.account_id}:service/*"]
  }

  # Registering a task definition that names roles passes those roles to ECS. Without
  # this: "ClientException: ... is not authorized to perform: iam:PassRole on
  # resource ...". Scoped to exactly the two ECS roles, and only towards ECS tasks, so
  # the deploy role cannot hand an admin role to anything.
  statement {
    sid       = "PassEcsRoles"
    actions   = ["iam:PassRole"]
    resources = [aws_iam_role.execution.arn, aws_iam_role.task.arn]

    condition {
      test     = "StringEquals"
      variable = "iam:PassedToService"
      values   = ["ecs-tasks.amazonaws.com"]
    }
  }
}

resource "aws_iam_role_policy" "deploy" {
  count = var.create_deploy_role ? 1 : 0

  name   = "terraform-plan-and-ecs-rollout"
  role   = aws_iam_role.deploy[0].id
  policy = data.aws_iam_policy_document.deploy[0].json
}

# Creating the whole stack from scratch (VPC, ALBs, IAM) needs write permissions far
# beyond a rollout; attach them explicitly rather than widening the policy above.
resource "aws_iam_role_policy_attachment" "deploy_additional" {
  for_each = var.create_deploy_role ? toset(var.deploy_role_additional_policy_arns) : toset([])

  role       = aws_iam_role.deploy[0].name
  policy_arn = each.value
}
