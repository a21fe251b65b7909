resource "aws_cloudwatch_log_group" "function" {
  for_each = local.stack.functions

  name              = "/aws/lambda/${var.name_prefix}-${each.key}"
  retention_in_days = each.value.log_retention_days

  tags = local.tags
}

resource "aws_iam_role" "function" {
  for_each = local.stack.functions

  name        = "${var.name_prefix}-${each.key}"
  description = "Execution role of the ${each.key} function"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "lambda.amazonaws.com" }
      Action    = "sts:AssumeRole"
    }]
  })

  tags = local.tags

  lifecycle {
    precondition {
      condition     = length("${var.name_prefix}-${each.key}") <= 64
      error_message = "The role and function name ${var.name_prefix}-${each.key} is longer than 64 characters: shorten name_prefix."
    }
  }
}

# Exactly the manifest's actions on the manifest's tables and indexes, plus writing to the
# function's own log group; no wildcard actions, no managed policies.
resource "aws_iam_role_policy" "function" {
  for_each = local.stack.functions

  name = each.key
  role = aws_iam_role.function[each.key].id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = concat(
      [for i, permission in try(each.value.permissions, []) : {
        Sid    = "Table${i}"
        Effect = "Allow"
        Action = permission.actions
        Resource = concat(
          [aws_dynamodb_table.this[permission.table].arn],
          [for index in try(permission.indexes, []) : "${aws_dynamodb_table.this[permission.table].arn}/index/${index}"],
        )
      }],
      [{
        Sid      = "Logs"
        Effect   = "Allow"
        Action   = ["logs:CreateLogStream", "logs:PutLogEvents"]
        Resource = ["${aws_cloudwatch_log_group.function[each.key].arn}:*"]
      }],
    )
  })
}

resource "aws_lambda_function" "this" {
  for_each = local.stack.functions

  function_name = "${var.name_prefix}-${each.key}"
  description   = each.value.description
  role          = aws_iam_role.function[each.key].arn

  filename         = "${local.package_dir}/${each.key}/bootstrap.zip"
  source_code_hash = filebase64sha256("${local.package_dir}/${each.key}/bootstrap.zip")
  handler          = "bootstrap"
  runtime          = each.value.runtime
  architectures    = [coalesce(var.architecture, each.value.architecture)]
  memory_size      = each.value.memory_mb
  timeout          = each.value.timeout_seconds

  environment {
    # {"table": "<key>"} is the deployed name of that manifest table; {"value": "..."} is literal.
    variables = {
      for name, value in try(each.value.environment, {}) :
      name => lookup(value, "table", null) != null ? aws_dynamodb_table.this[value.table].name : value.value
    }
  }

  logging_config {
    log_format = each.value.log_format
    log_group  = aws_cloudwatch_log_group.function[each.key].name
  }

  tags = local.tags

  # The role must be able to write logs and reach its tables before the first invocation.
  depends_on = [aws_iam_role_policy.function]
}
