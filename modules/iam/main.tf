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

  ci_role_name              = coalesce(var.ci_role_name, "${var.name}-ci")
  ci_trusted_principal_arns = length(var.ci_role_trusted_principal_arns) > 0 ? var.ci_role_trusted_principal_arns : var.deploy_role_trusted_principal_arns

  # This project's ECS resources: cluster <name>, its services, task families
  # <name>-<service>, and the account's capacity providers (FARGATE, FARGATE_SPOT).
  ecs_arn = "arn:${local.partition}:ecs:${local.region}:${local.account_id}"
  ecs_resource_arns = [
    "${local.ecs_arn}:cluster/${var.name}",
    "${local.ecs_arn}:service/${var.name}/*",
    "${local.ecs_arn}:task-definition/${var.name}-*:*",
    "${local.ecs_arn}:capacity-provider/*",
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

  # Every read `terraform plan` makes while refreshing this stack, listed one by one
  # (never a `Describe*` wildcard) so a reviewer sees what the role can read. These
  # Describe calls cannot be scoped to a resource (IAM's action table has no resource
  # type for them), hence "*". Why each is here:
  # - vpc, subnets, route-tables: DescribeVpcs/Subnets/RouteTables/InternetGateways,
  #   NatGateways and Addresses (the NAT's Elastic IP), DescribeAddressesAttribute (its
  #   reverse DNS), DescribeNetworkAcls and DescribeFlowLogs (the VPC's flow log);
  # - security-groups: DescribeSecurityGroups, DescribeSecurityGroupRules (one per
  #   aws_vpc_security_group_*_rule), DescribeNetworkInterfaces (ENIs of tasks and ALBs);
  # - jenkins-ec2: DescribeInstances, DescribeInstanceTypes, DescribeInstanceCreditSpecifications
  #   (t3 instances), DescribeVolumes, DescribeImages, DescribeTags;
  # - the provider itself: DescribeAvailabilityZones, DescribeAccountAttributes;
  # - ALBs, target groups, listeners: elasticloadbalancing:Describe* (no ELB Describe
  #   call supports resource-level permissions). DescribeLoadBalancerAttributes broke
  #   the seed project's plans: refresh of aws_lb reads idle_timeout and deletion
  #   protection; without it "reading ELBv2 Load Balancer (...) attributes: AccessDenied".
  statement {
    sid = "PlanReadNetworkAndLoadBalancers"
    actions = [
      "ec2:DescribeAccountAttributes",
      "ec2:DescribeAddresses",
      "ec2:DescribeAddressesAttribute",
      "ec2:DescribeAvailabilityZones",
      "ec2:DescribeFlowLogs",
      "ec2:DescribeImages",
      "ec2:DescribeInstanceCreditSpecifications",
      "ec2:DescribeInstanceTypes",
      "ec2:DescribeInstances",
      "ec2:DescribeInternetGateways",
      "ec2:DescribeNatGateways",
      "ec2:DescribeNetworkAcls",
      "ec2:DescribeNetworkInterfaces",
      "ec2:DescribeRouteTables",
      "ec2:DescribeSecurityGroupRules",
      "ec2:DescribeSecurityGroups",
      "ec2:DescribeSubnets",
      "ec2:DescribeTags",
      "ec2:DescribeVolumes",
      "ec2:DescribeVpcs",
      "elasticloadbalancing:DescribeListenerAttributes",
      "elasticloadbalancing:DescribeListeners",
      "elasticloadbalancing:DescribeLoadBalancerAttributes",
      "elasticloadbalancing:DescribeLoadBalancers",
      "elasticloadbalancing:DescribeRules",
      "elasticloadbalancing:DescribeTags",
      "elasticloadbalancing:DescribeTargetGroupAttributes",
      "elasticloadbalancing:DescribeTargetGroups",
      "elasticloadbalancing:DescribeTargetHealth",
      "logs:DescribeLogGroups",
    ]
    resources = ["*"]
  }

  # The reads that do take a resource, scoped to this account and region:
  # - ec2:DescribeVpcAttribute broke the seed project's plans: refresh of aws_vpc reads
  #   enable_dns_support/hostnames; without it "reading EC2 VPC (vpc-...) Attribute
  #   (enableDnsSupport): UnauthorizedOperation";
  # - ec2:DescribeInstanceAttribute: refresh of aws_instance (jenkins-ec2) reads
  #   disableApiTermination, user data and the shutdown behaviour.
  statement {
    sid     = "PlanReadEc2Attributes"
    actions = ["ec2:DescribeVpcAttribute", "ec2:DescribeInstanceAttribute"]
    resources = [
      "arn:${local.partition}:ec2:${local.region}:${local.account_id}:vpc/*",
      "arn:${local.partition}:ec2:${local.region}:${local.account_id}:instance/*",
    ]
  }

  # The public ALB's WAF association (alb-public input web_acl_arn).
  statement {
    sid       = "PlanReadWafAssociation"
    actions   = ["wafv2:GetWebACLForResource"]
    resources = ["arn:${local.partition}:elasticloadbalancing:${local.region}:${local.account_id}:loadbalancer/app/*"]
  }

  # Without these: "reading ECS Service/Task Definition/Cluster: AccessDeniedException".
  # DescribeTaskDefinition and ListTaskDefinitions/ListServices take no resource.
  statement {
    sid       = "PlanReadEcsUnscoped"
    actions   = ["ecs:DescribeTaskDefinition", "ecs:ListTaskDefinitions", "ecs:ListServices"]
    resources = ["*"]
  }

  # This project's ECS resources follow the naming the modules use: the cluster is
  # <name>, task families <name>-<service> (as the log groups), services live in the
  # cluster. FARGATE and FARGATE_SPOT are AWS's capacity providers in the account.
  statement {
    sid = "PlanReadEcs"
    actions = [
      "ecs:DescribeCapacityProviders",
      "ecs:DescribeClusters",
      "ecs:DescribeServices",
      "ecs:ListTagsForResource",
    ]
    resources = local.ecs_resource_arns
  }

  # Without these: refresh of aws_ecr_repository / aws_ecr_lifecycle_policy fails.
  statement {
    sid = "PlanReadEcr"
    actions = [
      "ecr:DescribeImages",
      "ecr:DescribeRepositories",
      "ecr:GetLifecyclePolicy",
      "ecr:GetRepositoryPolicy",
      "ecr:ListTagsForResource",
    ]
    resources = var.ecr_repository_arns
  }

  # Without these: refresh of aws_cloudwatch_log_group fails on its tags.
  statement {
    sid       = "PlanReadLogs"
    actions   = ["logs:ListTagsForResource", "logs:ListTagsLogGroup"]
    resources = [for arn in local.log_group_arns : "${trimsuffix(arn, ":*")}:*"]
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

  # RegisterTaskDefinition and DeregisterTaskDefinition take no resource.
  statement {
    sid       = "EcsRollout"
    actions   = ["ecs:RegisterTaskDefinition", "ecs:DeregisterTaskDefinition"]
    resources = ["*"]
  }

  # Tagging a new revision, and the service update that rolls it out.
  statement {
    sid       = "EcsUpdateService"
    actions   = ["ecs:TagResource", "ecs:UpdateService"]
    resources = local.ecs_resource_arns
  }

  # What ecs-rollout reads while it follows a deployment, and forge's drift check: the
  # service (PlanReadEcs above), its tasks and why they stopped, and the target groups'
  # health (elasticloadbalancing:DescribeTargetHealth above).
  statement {
    sid       = "RolloutReadTasks"
    actions   = ["ecs:ListTasks", "ecs:DescribeTasks"]
    resources = ["${local.ecs_arn}:container-instance/${var.name}/*", "${local.ecs_arn}:task/${var.name}/*"]
  }

  # forge deploy reads the shared cache (it never writes it): the images CI built.
  dynamic "statement" {
    for_each = var.cache_bucket_arn == null ? [] : [1]

    content {
      sid       = "SharedCacheRead"
      actions   = ["s3:GetObject"]
      resources = ["${var.cache_bucket_arn}/${var.cache_prefix}*"]
    }
  }

  # Without s3:ListBucket, S3 answers a missing key with 403 instead of 404, and every
  # cache miss would read as "access denied". Listing is limited to the prefix.
  dynamic "statement" {
    for_each = var.cache_bucket_arn == null ? [] : [1]

    content {
      sid       = "SharedCacheList"
      actions   = ["s3:ListBucket"]
      resources = [var.cache_bucket_arn]

      condition {
        test     = "StringLike"
        variable = "s3:prefix"
        values   = ["${var.cache_prefix}*"]
      }
    }
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

################################################################################
# CI Role
################################################################################

# CI builds and pushes images and writes the shared cache; it has no infrastructure
# permission at all (no state, no plan, no apply). Trusted like the deploy role, through
# an aws:PrincipalArn condition, so the Jenkins role may be created after this one.
data "aws_iam_policy_document" "ci_assume" {
  count = var.create_ci_role ? 1 : 0

  statement {
    sid     = "CiAssume"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${local.account_id}:root"]
    }

    condition {
      test     = "ArnLike"
      variable = "aws:PrincipalArn"
      values   = local.ci_trusted_principal_arns
    }
  }
}

resource "aws_iam_role" "ci" {
  count = var.create_ci_role ? 1 : 0

  name                 = local.ci_role_name
  description          = "CI pipeline: push images to ECR, read and write forge's shared cache"
  assume_role_policy   = data.aws_iam_policy_document.ci_assume[0].json
  permissions_boundary = var.permissions_boundary_arn

  tags = merge(var.tags, { Name = local.ci_role_name })

  lifecycle {
    precondition {
      condition     = length(local.ci_trusted_principal_arns) > 0
      error_message = "Nobody could assume the CI role: pass ci_role_trusted_principal_arns (or deploy_role_trusted_principal_arns), e.g. the Jenkins role ARN."
    }
  }
}

data "aws_iam_policy_document" "ci" {
  count = var.create_ci_role ? 1 : 0

  # docker login to ECR. The token is account-wide: the API has no resource to scope to.
  statement {
    sid       = "EcrAuthToken"
    actions   = ["ecr:GetAuthorizationToken"]
    resources = ["*"]
  }

  # Push to, and read from (layer reuse, the digest check), this project's repositories.
  statement {
    sid = "EcrPush"
    actions = [
      "ecr:BatchCheckLayerAvailability",
      "ecr:BatchGetImage",
      "ecr:CompleteLayerUpload",
      "ecr:DescribeImages",
      "ecr:DescribeRepositories",
      "ecr:GetDownloadUrlForLayer",
      "ecr:InitiateLayerUpload",
      "ecr:PutImage",
      "ecr:UploadLayerPart",
    ]
    resources = var.ecr_repository_arns
  }

  # forge's shared cache: entries and blobs under the prefix. Writes are conditional
  # PUTs (If-None-Match), which need only s3:PutObject; nothing is ever deleted by CI.
  dynamic "statement" {
    for_each = var.cache_bucket_arn == null ? [] : [1]

    content {
      sid       = "SharedCacheObjects"
      actions   = ["s3:GetObject", "s3:PutObject"]
      resources = ["${var.cache_bucket_arn}/${var.cache_prefix}*"]
    }
  }

  # Without s3:ListBucket, S3 answers a missing key with 403 instead of 404, and every
  # cache miss would read as "access denied". Listing is limited to the prefix.
  dynamic "statement" {
    for_each = var.cache_bucket_arn == null ? [] : [1]

    content {
      sid       = "SharedCacheList"
      actions   = ["s3:ListBucket"]
      resources = [var.cache_bucket_arn]

      condition {
        test     = "StringLike"
        variable = "s3:prefix"
        values   = ["${var.cache_prefix}*"]
      }
    }
  }
}

resource "aws_iam_role_policy" "ci" {
  count = var.create_ci_role ? 1 : 0

  name   = "ecr-push-shared-cache"
  role   = aws_iam_role.ci[0].id
  policy = data.aws_iam_policy_document.ci[0].json
}

# Creating the whole stack from scratch (VPC, ALBs, IAM) needs write permissions far
# beyond a rollout; attach them explicitly rather than widening the policy above.
resource "aws_iam_role_policy_attachment" "deploy_additional" {
  for_each = var.create_deploy_role ? toset(var.deploy_role_additional_policy_arns) : toset([])

  role       = aws_iam_role.deploy[0].name
  policy_arn = each.value
}
