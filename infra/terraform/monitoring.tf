# Operations (manifest "monitoring"): one SNS topic that alarms and the budget notify, with an
# email subscription when alarm_email is set; one CloudWatch metric alarm per manifest alarm and
# one per function and function alarm; the operations dashboard, whose body is the file the
# manifest names (infra/dashboard.json, the same text the SAM template deploys); and, when
# monthly_budget_usd is set, a cost budget on what carries the stack's filter tag.
locals {
  monitoring = try(local.stack.monitoring, {})

  # The alarm topic and the dashboard by their manifest keys.
  alarm_topics = try(local.monitoring.alarm_topic, null) == null ? {} : { (local.monitoring.alarm_topic.key) = local.monitoring.alarm_topic }
  dashboards   = try(local.monitoring.dashboard, null) == null ? {} : { (local.monitoring.dashboard.key) = local.monitoring.dashboard }

  # Every alarm by its name after the prefix: the manifest's alarms by key, and each function
  # alarm once per function as "<function>-<key>" with the target {function = <function>}. A
  # name both produce fails the plan with "Duplicate object key".
  alarms = {
    for alarm in concat(
      [for key, alarm in try(local.monitoring.alarms, {}) : merge(alarm, { name = key })],
      flatten([
        for function in keys(local.stack.functions) : [
          for key, alarm in try(local.monitoring.function_alarms, {}) :
          merge(alarm, { name = "${function}-${key}", target = { function = function } })
        ]
      ]),
    ) : alarm.name => alarm
  }

  # The CloudWatch namespace of each kind of alarm target.
  alarm_namespaces = {
    queue    = "AWS/SQS"
    stream   = "AWS/Kinesis"
    endpoint = "AWS/SageMaker"
    http_api = "AWS/ApiGateway"
    function = "AWS/Lambda"
  }
  # CloudWatch's statistics; any other (p99, tm90, ...) is an extended statistic.
  standard_statistics = ["SampleCount", "Average", "Sum", "Minimum", "Maximum"]

  # The budget, keyed by its time unit in lower case ("monthly": <name_prefix>-monthly), only
  # when the manifest has one and monthly_budget_usd is set.
  budgets = try(local.monitoring.budget, null) == null || var.monthly_budget_usd == null ? {} : {
    (lower(local.monitoring.budget.time_unit)) = local.monitoring.budget
  }
}

# Unencrypted: CloudWatch alarms cannot publish to a topic encrypted with the AWS-managed key
# alias/aws/sns (its key policy cannot grant cloudwatch.amazonaws.com), and the notifications
# carry alarm and budget names and states, no data (infra/checkov.yaml skips CKV_AWS_26).
resource "aws_sns_topic" "this" {
  for_each = local.alarm_topics

  name = "${var.name_prefix}-${each.key}"

  tags = local.tags
}

# CloudWatch alarms and AWS Budgets of this account, and nothing else, may publish to the topic.
resource "aws_sns_topic_policy" "this" {
  for_each = local.alarm_topics

  arn = aws_sns_topic.this[each.key].arn
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "CloudWatchAlarms"
        Effect    = "Allow"
        Principal = { Service = "cloudwatch.amazonaws.com" }
        Action    = "sns:Publish"
        Resource  = aws_sns_topic.this[each.key].arn
        Condition = {
          StringEquals = { "aws:SourceAccount" = data.aws_caller_identity.current.account_id }
          ArnLike      = { "aws:SourceArn" = "arn:${data.aws_partition.current.partition}:cloudwatch:${data.aws_region.current.id}:${data.aws_caller_identity.current.account_id}:alarm:*" }
        }
      },
      {
        Sid       = "Budgets"
        Effect    = "Allow"
        Principal = { Service = "budgets.amazonaws.com" }
        Action    = "sns:Publish"
        Resource  = aws_sns_topic.this[each.key].arn
        Condition = {
          StringEquals = { "aws:SourceAccount" = data.aws_caller_identity.current.account_id }
          ArnLike      = { "aws:SourceArn" = "arn:${data.aws_partition.current.partition}:budgets::${data.aws_caller_identity.current.account_id}:*" }
        }
      },
    ]
  })
}

# AWS mails a confirmation link first; nothing is delivered until it is followed. Terraform
# cannot delete a subscription that was never confirmed: destroying it only drops it from the
# state.
resource "aws_sns_topic_subscription" "email" {
  for_each = var.alarm_email == null ? {} : local.alarm_topics

  topic_arn = aws_sns_topic.this[each.key].arn
  protocol  = "email"
  endpoint  = var.alarm_email
}

resource "aws_cloudwatch_metric_alarm" "this" {
  for_each = local.alarms

  alarm_name        = "${var.name_prefix}-${each.key}"
  alarm_description = each.value.description
  namespace         = local.alarm_namespaces[one(keys(each.value.target))]
  metric_name       = each.value.metric
  # The deployed name (or id) of what the target names; tomap() gives every branch one type.
  dimensions = (
    lookup(each.value.target, "queue", null) != null ? tomap({ QueueName = aws_sqs_queue.this[each.value.target.queue].name }) :
    lookup(each.value.target, "stream", null) != null ? tomap({ StreamName = aws_kinesis_stream.this[each.value.target.stream].name }) :
    lookup(each.value.target, "endpoint", null) != null ? tomap({
      EndpointName = aws_sagemaker_endpoint.this[each.value.target.endpoint].name
      VariantName  = one(aws_sagemaker_endpoint_configuration.this[each.value.target.endpoint].production_variants).variant_name
    }) :
    lookup(each.value.target, "function", null) != null ? tomap({ FunctionName = aws_lambda_function.this[each.value.target.function].function_name }) :
    tomap({ ApiId = aws_apigatewayv2_api.this["http-api"].id })
  )
  statistic           = contains(local.standard_statistics, each.value.statistic) ? each.value.statistic : null
  extended_statistic  = contains(local.standard_statistics, each.value.statistic) ? null : each.value.statistic
  period              = each.value.period_seconds
  evaluation_periods  = each.value.evaluation_periods
  datapoints_to_alarm = each.value.datapoints_to_alarm
  comparison_operator = each.value.comparison
  threshold           = each.value.threshold
  treat_missing_data  = each.value.treat_missing_data
  alarm_actions       = [aws_sns_topic.this[local.monitoring.alarm_topic.key].arn]
  ok_actions          = [aws_sns_topic.this[local.monitoring.alarm_topic.key].arn]

  tags = local.tags
}

# No tags: aws_cloudwatch_dashboard has no tags argument (AWS provider 5.x); the SAM template
# tags its dashboard.
resource "aws_cloudwatch_dashboard" "this" {
  for_each = local.dashboards

  dashboard_name = "${var.name_prefix}-${each.key}"
  # The file beside the manifest, with the only three variables it uses; the SAM template
  # deploys the same text through !Sub with the same three.
  dashboard_body = templatefile("${path.module}/../${each.value.body}", {
    prefix = var.name_prefix
    region = data.aws_region.current.id
    api_id = aws_apigatewayv2_api.this["http-api"].id
  })
}

resource "aws_budgets_budget" "this" {
  for_each = local.budgets

  name         = "${var.name_prefix}-${each.key}"
  budget_type  = "COST"
  time_unit    = each.value.time_unit
  limit_amount = tostring(var.monthly_budget_usd)
  limit_unit   = "USD"

  # What carries the filter tag with this stack's value: "user:<tag>$<value>" (counted once the
  # tag is activated as a cost-allocation tag in the Billing console).
  cost_filter {
    name   = "TagKeyValue"
    values = [format("user:%s$%s", each.value.filter_tag, local.tags[each.value.filter_tag])]
  }

  dynamic "notification" {
    for_each = each.value.notifications
    content {
      notification_type         = notification.value.type
      comparison_operator       = "GREATER_THAN"
      threshold                 = notification.value.threshold_percent
      threshold_type            = "PERCENTAGE"
      subscriber_sns_topic_arns = [aws_sns_topic.this[local.monitoring.alarm_topic.key].arn]
    }
  }

  tags = local.tags

  # Budgets must be allowed to publish to the topic before it is named as a subscriber.
  depends_on = [aws_sns_topic_policy.this]
}
