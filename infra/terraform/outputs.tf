output "api_url" {
  description = "Base URL of the HTTP API ($default stage); null when the manifest has no HTTP API."
  value       = try(trimsuffix(aws_apigatewayv2_stage.default["http-api"].invoke_url, "/"), null)
}

output "table_names" {
  description = "Deployed table names by manifest key."
  value       = { for key, table in aws_dynamodb_table.this : key => table.name }
}

output "table_arns" {
  description = "Table ARNs by manifest key."
  value       = { for key, table in aws_dynamodb_table.this : key => table.arn }
}

output "function_names" {
  description = "Deployed function names by manifest key."
  value       = { for key, function in aws_lambda_function.this : key => function.function_name }
}

output "function_arns" {
  description = "Function ARNs by manifest key."
  value       = { for key, function in aws_lambda_function.this : key => function.arn }
}

output "function_log_groups" {
  description = "Log group of each function by manifest key."
  value       = { for key, group in aws_cloudwatch_log_group.function : key => group.name }
}

output "role_arns" {
  description = "Execution role ARN of each function by manifest key."
  value       = { for key, role in aws_iam_role.function : key => role.arn }
}

output "queue_urls" {
  description = "Queue URLs by manifest key."
  value       = { for key, queue in aws_sqs_queue.this : key => queue.url }
}

output "queue_arns" {
  description = "Queue ARNs by manifest key."
  value       = { for key, queue in aws_sqs_queue.this : key => queue.arn }
}

output "stream_names" {
  description = "Deployed Kinesis stream names by manifest key."
  value       = { for key, stream in aws_kinesis_stream.this : key => stream.name }
}

output "stream_arns" {
  description = "Kinesis stream ARNs by manifest key."
  value       = { for key, stream in aws_kinesis_stream.this : key => stream.arn }
}

output "archive_bucket_name" {
  description = "Name of the S3 bucket the archives are in (<name_prefix>-archive-<account id>); null when the manifest has no archive."
  value       = try(aws_s3_bucket.archive["archive"].bucket, null)
}

output "archive_bucket_arn" {
  description = "ARN of the archive bucket; null when the manifest has no archive."
  value       = try(aws_s3_bucket.archive["archive"].arn, null)
}

output "archive_uris" {
  description = "Where each archive's records are, by manifest key: s3://<bucket>/<prefix>/, one prefix per event date below it (date=YYYY-MM-DD/)."
  value       = { for key, layout in local.archive_layouts : key => layout.uri }
}

output "archive_delivery_stream_names" {
  description = "Deployed Firehose delivery stream names by archive key."
  value       = { for key, stream in aws_kinesis_firehose_delivery_stream.archive : key => stream.name }
}

output "archive_delivery_stream_arns" {
  description = "Firehose delivery stream ARNs by archive key."
  value       = { for key, stream in aws_kinesis_firehose_delivery_stream.archive : key => stream.arn }
}

output "event_bus_names" {
  description = "Deployed event bus names by manifest key (the EventBusName of PutEvents)."
  value       = { for key, bus in aws_cloudwatch_event_bus.this : key => bus.name }
}

output "event_bus_arns" {
  description = "Event bus ARNs by manifest key."
  value       = { for key, bus in aws_cloudwatch_event_bus.this : key => bus.arn }
}

output "event_rule_arns" {
  description = "EventBridge rule ARNs by manifest rule key."
  value       = { for key, rule in aws_cloudwatch_event_rule.this : key => rule.arn }
}

output "model_endpoint_names" {
  description = "Deployed SageMaker endpoint names by manifest key (InvokeEndpoint's EndpointName)."
  value       = { for key, endpoint in aws_sagemaker_endpoint.this : key => endpoint.name }
}

output "model_endpoint_arns" {
  description = "SageMaker endpoint ARNs by manifest key."
  value       = { for key, endpoint in aws_sagemaker_endpoint.this : key => endpoint.arn }
}

output "model_endpoint_role_arns" {
  description = "ARN of the SageMaker execution role of each model endpoint by manifest key."
  value       = { for key, role in aws_iam_role.model_endpoint : key => role.arn }
}

output "event_source_mapping_uuids" {
  description = "Lambda event source mapping UUIDs by \"<function>/<queue or stream>\"."
  value       = { for key, mapping in aws_lambda_event_source_mapping.this : key => mapping.uuid }
}

output "alarm_topic_arn" {
  description = "ARN of the SNS topic that alarms and the budget notify; null when the manifest has no alarm topic."
  value       = try(aws_sns_topic.this[local.monitoring.alarm_topic.key].arn, null)
}

output "dashboard_name" {
  description = "Name of the CloudWatch operations dashboard; null when the manifest has no dashboard."
  value       = try(aws_cloudwatch_dashboard.this[local.monitoring.dashboard.key].dashboard_name, null)
}
