output "api_url" {
  description = "Base URL of the HTTP API."
  value       = module.stack.api_url
}

output "tasks_table_name" {
  description = "Name of the tasks table."
  value       = module.stack.table_names["tasks"]
}

output "todo_api_function_name" {
  description = "Name of the todo-api function."
  value       = module.stack.function_names["todo-api"]
}
