# One SQS queue per manifest queue, encrypted with SQS-managed keys (SSE-SQS). Redrive and
# redrive-allow policies are resources of their own: a queue cannot refer to another instance of
# its own for_each.
resource "aws_sqs_queue" "this" {
  for_each = local.queues

  # FIFO queue names must end in ".fifo".
  name       = "${var.name_prefix}-${each.key}${each.value.fifo ? ".fifo" : ""}"
  fifo_queue = each.value.fifo
  # FIFO only: the function sets a deduplication id (the eventId) on every message.
  content_based_deduplication = each.value.fifo ? false : null
  visibility_timeout_seconds  = each.value.visibility_timeout_seconds
  message_retention_seconds   = each.value.message_retention_seconds
  sqs_managed_sse_enabled     = true

  tags = local.tags

  lifecycle {
    precondition {
      condition     = length("${var.name_prefix}-${each.key}${each.value.fifo ? ".fifo" : ""}") <= 80
      error_message = "The queue name ${var.name_prefix}-${each.key} is longer than SQS's 80 characters: shorten name_prefix."
    }
  }
}

# A queue with a manifest dead_letter moves a message to that queue after max_receive_count
# receives.
resource "aws_sqs_queue_redrive_policy" "this" {
  for_each = local.dead_letters

  queue_url = aws_sqs_queue.this[each.key].id
  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.this[each.value.queue].arn
    maxReceiveCount     = each.value.max_receive_count
  })
}

# A dead-letter queue accepts redrives only from the queues the manifest names for it.
resource "aws_sqs_queue_redrive_allow_policy" "this" {
  for_each = local.dead_letter_sources

  queue_url = aws_sqs_queue.this[each.key].id
  redrive_allow_policy = jsonencode({
    redrivePermission = "byQueue"
    sourceQueueArns   = [for source in each.value : aws_sqs_queue.this[source].arn]
  })
}

# Each queue that an EventBridge rule targets lets events.amazonaws.com send to it, only on
# behalf of those rules (aws:SourceArn), and nothing else.
resource "aws_sqs_queue_policy" "event_rules" {
  for_each = local.rule_target_queues

  queue_url = aws_sqs_queue.this[each.key].id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [for i, rule in each.value : {
      Sid       = "EventRule${i}"
      Effect    = "Allow"
      Principal = { Service = "events.amazonaws.com" }
      Action    = "sqs:SendMessage"
      Resource  = aws_sqs_queue.this[each.key].arn
      Condition = { ArnEquals = { "aws:SourceArn" = aws_cloudwatch_event_rule.this[rule].arn } }
    }]
  })
}
