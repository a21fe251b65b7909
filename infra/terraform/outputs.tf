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
