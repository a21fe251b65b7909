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

# Exactly the manifest's actions on the manifest's tables (and indexes), queues, streams and
# model endpoints, plus writing to the function's own log group; no wildcard actions, no managed
# policies.
resource "aws_iam_role_policy" "function" {
  for_each = local.stack.functions

  name = each.key
  role = aws_iam_role.function[each.key].id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = concat(
      [for i, permission in try(each.value.permissions, []) : {
        Sid    = "Permission${i}"
        Effect = "Allow"
        Action = permission.actions
        # A permission names exactly one table, queue, stream or model endpoint (checked by
        # shared::stack). An endpoint's ARN is the one SageMaker reports (the name in lower case).
        Resource = (
          lookup(permission, "table", null) != null ? concat(
            [aws_dynamodb_table.this[permission.table].arn],
            [for index in try(permission.indexes, []) : "${aws_dynamodb_table.this[permission.table].arn}/index/${index}"],
          ) :
          lookup(permission, "queue", null) != null ? [aws_sqs_queue.this[permission.queue].arn] :
          lookup(permission, "endpoint", null) != null ? [aws_sagemaker_endpoint.this[permission.endpoint].arn] :
          [aws_kinesis_stream.this[permission.stream].arn]
        )
      }],
      # An enhanced fan-out source's mapping subscribes to its consumer's shards with this role.
      [for key, source in local.fan_out_sources : {
        Sid      = "FanOut${replace(title(replace(source.stream, "-", " ")), " ", "")}"
        Effect   = "Allow"
        Action   = ["kinesis:SubscribeToShard", "kinesis:DescribeStreamConsumer"]
        Resource = [aws_kinesis_stream_consumer.this[key].arn]
      } if source.function == each.key],
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
    # {"table": "<key>"} is the deployed name of that manifest table, {"queue": "<key>"} the URL
    # of that queue, {"stream": "<key>"} the name of that stream, {"endpoint": "<key>"} the name
    # of that model endpoint; {"value": "..."} is literal.
    variables = {
      # The profile's values replace the manifest's (only literal values: checked by crates/stack).
      for name, value in merge(
        try(each.value.environment, {}),
        { for name, literal in try(local.profile.environment[each.key], {}) : name => { value = literal } },
      ) :
      name => (
        lookup(value, "table", null) != null ? aws_dynamodb_table.this[value.table].name :
        lookup(value, "queue", null) != null ? aws_sqs_queue.this[value.queue].url :
        lookup(value, "stream", null) != null ? aws_kinesis_stream.this[value.stream].name :
        lookup(value, "endpoint", null) != null ? aws_sagemaker_endpoint.this[value.endpoint].name :
        value.value
      )
    }
  }

  logging_config {
    log_format = each.value.log_format
    log_group  = aws_cloudwatch_log_group.function[each.key].name
  }

  tags = local.tags

  # The role must be able to write logs and reach its resources before the first invocation.
  depends_on = [aws_iam_role_policy.function]
}

# An enhanced fan-out consumer per stream source that asks for one (the low-latency profile):
# Kinesis pushes each shard's records to it over HTTP/2, about 70 ms after they are put, with a
# dedicated 2 MB/s per shard, instead of Lambda polling the shard once a second.
resource "aws_kinesis_stream_consumer" "this" {
  for_each = local.fan_out_sources

  name       = "${var.name_prefix}-${each.value.function}"
  stream_arn = aws_kinesis_stream.this[each.value.stream].arn
}

# One event source mapping per manifest event source. On an SQS queue, Lambda polls the queue and
# invokes the function with batches; with report_batch_item_failures the function returns the
# ids of the messages that failed, and only those return to the queue. On a Kinesis stream,
# Lambda reads each shard in order from starting_position; a reported failure retries from the
# first failed record, and a batch given up on (retries, record age) sends a pointer to the
# manifest's on_failure_queue. The stream-only settings are null for a queue.
resource "aws_lambda_event_source_mapping" "this" {
  for_each = local.event_sources

  function_name = aws_lambda_function.this[each.value.function].arn
  event_source_arn = (
    lookup(each.value, "queue", null) != null ? aws_sqs_queue.this[each.value.queue].arn :
    try(each.value.enhanced_fan_out, false) ? aws_kinesis_stream_consumer.this[each.key].arn :
    aws_kinesis_stream.this[each.value.stream].arn
  )
  batch_size                         = each.value.batch_size
  maximum_batching_window_in_seconds = each.value.maximum_batching_window_seconds
  function_response_types            = each.value.report_batch_item_failures ? ["ReportBatchItemFailures"] : []

  starting_position              = try(each.value.starting_position, null)
  bisect_batch_on_function_error = try(each.value.bisect_batch_on_function_error, null)
  maximum_retry_attempts         = try(each.value.maximum_retry_attempts, null)
  maximum_record_age_in_seconds  = try(each.value.maximum_record_age_seconds, null)
  parallelization_factor         = try(each.value.parallelization_factor, null)

  dynamic "destination_config" {
    for_each = try(each.value.on_failure_queue, null) == null ? [] : [each.value.on_failure_queue]
    content {
      on_failure {
        destination_arn = aws_sqs_queue.this[destination_config.value].arn
      }
    }
  }

  dynamic "scaling_config" {
    for_each = try(each.value.maximum_concurrency, null) == null ? [] : [each.value.maximum_concurrency]
    content {
      maximum_concurrency = scaling_config.value
    }
  }

  tags = local.tags
}
