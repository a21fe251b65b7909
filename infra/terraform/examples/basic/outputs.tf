output "api_url" {
  description = "Base URL of the HTTP API."
  value       = module.stack.api_url
}

output "tasks_table_name" {
  description = "Name of the tasks table."
  value       = module.stack.table_names["tasks"]
}

output "profiles_table_name" {
  description = "Name of the profiles table (read by stream-enrichment)."
  value       = module.stack.table_names["profiles"]
}

output "aggregates_table_name" {
  description = "Name of the per-user aggregates table (written by stream-enrichment)."
  value       = module.stack.table_names["aggregates"]
}

output "aggregates_applied_ids_table_name" {
  description = "Name of the table of event ids stream-enrichment applied in the last 24 hours, spilled out of the aggregates items (and the activity shards' marks)."
  value       = module.stack.table_names["aggregates-applied-ids"]
}

output "features_table_name" {
  description = "Name of the per-user online features table (written by feature-updates)."
  value       = module.stack.table_names["features"]
}

output "features_applied_ids_table_name" {
  description = "Name of the table of event ids feature-updates applied in the last 24 hours, spilled out of the features items (and the enriched shards' marks)."
  value       = module.stack.table_names["features-applied-ids"]
}

output "todo_api_function_name" {
  description = "Name of the todo-api function."
  value       = module.stack.function_names["todo-api"]
}

output "event_router_function_name" {
  description = "Name of the event-router function."
  value       = module.stack.function_names["event-router"]
}

output "stream_enrichment_function_name" {
  description = "Name of the stream-enrichment function."
  value       = module.stack.function_names["stream-enrichment"]
}

output "feature_updates_function_name" {
  description = "Name of the feature-updates function."
  value       = module.stack.function_names["feature-updates"]
}

output "inference_function_name" {
  description = "Name of the inference function (the /predict routes)."
  value       = module.stack.function_names["inference"]
}

output "model_endpoint_name" {
  description = "Name of the SageMaker endpoint serving the model image."
  value       = module.stack.model_endpoint_names["model"]
}

output "events_event_bus_name" {
  description = "Name of the events bus: the EventBusName of aws events put-events."
  value       = module.stack.event_bus_names["events"]
}

output "ingest_queue_url" {
  description = "URL of the ingest queue (the events bus delivers to it; event-router reads it)."
  value       = module.stack.queue_urls["ingest"]
}

output "ingest_dlq_queue_url" {
  description = "URL of the ingest queue's dead-letter queue."
  value       = module.stack.queue_urls["ingest-dlq"]
}

output "orders_queue_url" {
  description = "URL of the orders FIFO queue."
  value       = module.stack.queue_urls["orders"]
}

output "rejects_queue_url" {
  description = "URL of the rejects queue (events that failed validation)."
  value       = module.stack.queue_urls["rejects"]
}

output "enrichment_failures_queue_url" {
  description = "URL of the enrichment-failures queue (pointers to activity batches stream-enrichment gave up on)."
  value       = module.stack.queue_urls["enrichment-failures"]
}

output "feature_failures_queue_url" {
  description = "URL of the feature-failures queue (pointers to enriched batches feature-updates gave up on)."
  value       = module.stack.queue_urls["feature-failures"]
}

output "activity_stream_name" {
  description = "Name of the activity Kinesis stream."
  value       = module.stack.stream_names["activity"]
}

output "enriched_stream_name" {
  description = "Name of the enriched Kinesis stream."
  value       = module.stack.stream_names["enriched"]
}

output "archive_bucket_name" {
  description = "Name of the S3 bucket the archives are in."
  value       = module.stack.archive_bucket_name
}

output "activity_archive_uri" {
  description = "Where the activity archive's records are: s3://<bucket>/activity/, one prefix per event date below it (date=YYYY-MM-DD/)."
  value       = module.stack.archive_uris["activity"]
}

output "activity_archive_delivery_stream_name" {
  description = "Name of the Firehose delivery stream that archives the activity stream."
  value       = module.stack.archive_delivery_stream_names["activity"]
}

output "alarm_topic_arn" {
  description = "ARN of the SNS topic that alarms and the budget notify."
  value       = module.stack.alarm_topic_arn
}

output "dashboard_name" {
  description = "Name of the CloudWatch operations dashboard."
  value       = module.stack.dashboard_name
}
