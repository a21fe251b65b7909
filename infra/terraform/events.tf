# One custom event bus per manifest bus; one rule per manifest rule on its bus, with exactly the
# manifest's event pattern, and one target per rule: the manifest queue (its policy is in
# queues.tf).
resource "aws_cloudwatch_event_bus" "this" {
  for_each = local.event_buses

  name = "${var.name_prefix}-${each.key}"

  tags = local.tags
}

resource "aws_cloudwatch_event_rule" "this" {
  for_each = local.event_rules

  name           = "${var.name_prefix}-${each.key}"
  event_bus_name = aws_cloudwatch_event_bus.this[each.value.bus].name
  event_pattern  = jsonencode(each.value.pattern)

  tags = local.tags

  lifecycle {
    precondition {
      condition     = length("${var.name_prefix}-${each.key}") <= 64
      error_message = "The rule name ${var.name_prefix}-${each.key} is longer than EventBridge's 64 characters: shorten name_prefix."
    }
  }
}

resource "aws_cloudwatch_event_target" "this" {
  for_each = local.event_rules

  rule           = aws_cloudwatch_event_rule.this[each.key].name
  event_bus_name = aws_cloudwatch_event_bus.this[each.value.bus].name
  target_id      = each.value.queue
  arn            = aws_sqs_queue.this[each.value.queue].arn

  lifecycle {
    precondition {
      condition     = !local.queues[each.value.queue].fifo
      error_message = "Rule ${each.key} targets FIFO queue ${each.value.queue}: EventBridge needs a MessageGroupId for it, which the manifest cannot give."
    }
  }
}
