# One SageMaker serverless endpoint per manifest model endpoint: an execution role that SageMaker
# assumes (pull the image from its ECR repository, write the endpoint's logs and metrics, nothing
# else), a model (the image given at deploy time, network isolation as the manifest says), an
# endpoint configuration with one serverless production variant, and the endpoint
# "<name_prefix>-<key>".
#
# The model and the endpoint configuration take generated names: every one of their settings
# forces a replacement, and create_before_destroy makes the new one, points the endpoint at it
# (an in-place update) and only then deletes the old one.
locals {
  # The deploy-time input of each manifest image_parameter (the SAM template's parameter of that
  # name): an endpoint naming a parameter not listed here fails the plan.
  model_images = {
    ModelImageUri = var.model_image_uri
  }

  # Each endpoint's image taken apart (account, region, repository), for the role's ECR
  # statement; var.model_image_uri's validation guarantees the shape.
  model_image_repositories = {
    for key, endpoint in local.model_endpoints : key => try(regex(
      "^(?P<account>[0-9]{12})\\.dkr\\.ecr\\.(?P<region>[a-z0-9-]+)\\.amazonaws\\.com/(?P<repository>[^:@]+)",
      local.model_images[endpoint.image_parameter],
    ), null)
  }
}

resource "aws_iam_role" "model_endpoint" {
  for_each = local.model_endpoints

  name        = "${var.name_prefix}-${each.key}-sagemaker"
  description = "SageMaker execution role of the ${each.key} endpoint (image pull, its logs and metrics)"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "sagemaker.amazonaws.com" }
      Action    = "sts:AssumeRole"
    }]
  })

  tags = local.tags

  lifecycle {
    precondition {
      condition     = length("${var.name_prefix}-${each.key}-sagemaker") <= 64
      error_message = "The role name ${var.name_prefix}-${each.key}-sagemaker is longer than 64 characters: shorten name_prefix."
    }
  }
}

resource "aws_iam_role_policy" "model_endpoint" {
  for_each = local.model_endpoints

  name = "${each.key}-sagemaker"
  role = aws_iam_role.model_endpoint[each.key].id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        # GetAuthorizationToken has no resource-level permissions: its resource is always "*".
        Sid      = "EcrAuthorization"
        Effect   = "Allow"
        Action   = ["ecr:GetAuthorizationToken"]
        Resource = ["*"]
      },
      {
        # The image's repository only.
        Sid      = "EcrImage"
        Effect   = "Allow"
        Action   = ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]
        Resource = ["arn:${data.aws_partition.current.partition}:ecr:${local.model_image_repositories[each.key].region}:${local.model_image_repositories[each.key].account}:repository/${local.model_image_repositories[each.key].repository}"]
      },
      {
        # The endpoint's log group (SageMaker creates it on first start) and its streams.
        Sid    = "Logs"
        Effect = "Allow"
        Action = ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:DescribeLogStreams", "logs:PutLogEvents"]
        Resource = [
          "arn:${data.aws_partition.current.partition}:logs:${data.aws_region.current.id}:${data.aws_caller_identity.current.account_id}:log-group:/aws/sagemaker/Endpoints/${var.name_prefix}-${each.key}",
          "arn:${data.aws_partition.current.partition}:logs:${data.aws_region.current.id}:${data.aws_caller_identity.current.account_id}:log-group:/aws/sagemaker/Endpoints/${var.name_prefix}-${each.key}:*",
        ]
      },
      {
        # PutMetricData has no resource-level permissions; the condition keeps it to SageMaker's
        # endpoint namespace.
        Sid       = "Metrics"
        Effect    = "Allow"
        Action    = ["cloudwatch:PutMetricData"]
        Resource  = ["*"]
        Condition = { StringEquals = { "cloudwatch:namespace" = "/aws/sagemaker/Endpoints" } }
      },
    ]
  })

  lifecycle {
    precondition {
      condition     = contains(keys(local.model_images), each.value.image_parameter)
      error_message = "Model endpoint ${each.key} takes its image from ${each.value.image_parameter}, which is not in local.model_images: add a variable for it there."
    }
  }
}

resource "aws_sagemaker_model" "this" {
  # checkov does not evaluate jsondecode(file()), so it cannot see the manifest's
  # network_isolation bound below; infra/tests/deploy_test.py reads the deployed value back, and
  # the scan of the rendered SAM template checks the same setting with its value.
  #checkov:skip=CKV_AWS_370:serverless endpoints do not support network isolation; the value is the manifest's network_isolation (false)
  for_each = local.model_endpoints

  execution_role_arn = aws_iam_role.model_endpoint[each.key].arn
  # False: serverless endpoints do not support network isolation (SageMaker's serverless
  # feature exclusions); see infra/README.md, "Model endpoint".
  enable_network_isolation = each.value.network_isolation

  primary_container {
    image = lookup(local.model_images, each.value.image_parameter, null)
  }

  tags = local.tags

  lifecycle {
    create_before_destroy = true
  }

  # SageMaker checks the image with the role: the policy must be in place first.
  depends_on = [aws_iam_role_policy.model_endpoint]
}

resource "aws_sagemaker_endpoint_configuration" "this" {
  for_each = local.model_endpoints

  production_variants {
    variant_name = "AllTraffic"
    model_name   = aws_sagemaker_model.this[each.key].name

    serverless_config {
      memory_size_in_mb = each.value.serverless.memory_size_mb
      max_concurrency   = each.value.serverless.max_concurrency
    }
  }

  tags = local.tags

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_sagemaker_endpoint" "this" {
  for_each = local.model_endpoints

  name                 = "${var.name_prefix}-${each.key}"
  endpoint_config_name = aws_sagemaker_endpoint_configuration.this[each.key].name

  tags = local.tags

  lifecycle {
    precondition {
      condition     = length("${var.name_prefix}-${each.key}") <= 63
      error_message = "The endpoint name ${var.name_prefix}-${each.key} is longer than SageMaker's 63 characters: shorten name_prefix."
    }
  }
}
