variable "region" {
  description = "AWS region to deploy into."
  type        = string
}

variable "name_prefix" {
  description = "Prefix of every deployed name, e.g. \"todo-dev\" gives the table todo-dev-tasks."
  type        = string
}

variable "cost_allocation_tags" {
  description = "Values of the cost-allocation tags set on every resource that takes tags."
  type = object({
    cost_center = string
    project     = string
    environment = string
  })
}

variable "jwt_issuer" {
  description = "Issuer URL of the JWT identity provider (the token's iss claim)."
  type        = string
}

variable "jwt_audience" {
  description = "Accepted audiences (the token's aud claim, or client_id for Cognito access tokens)."
  type        = list(string)
}

variable "model_image_uri" {
  description = "ECR URI of the model server image (model/Dockerfile) with a tag or digest, e.g. 123456789012.dkr.ecr.eu-west-1.amazonaws.com/purchase-model:1."
  type        = string
}

variable "architecture" {
  description = "arm64 or x86_64; null takes the manifest's value. Must match the zips tools/package.sh built."
  type        = string
  default     = null
}

variable "profile" {
  description = "One of the manifest's profiles (e.g. low-latency), or empty for the manifest as it is."
  type        = string
  default     = ""
}

variable "table_deletion_protection" {
  description = "Refuse to delete the tables; set to false and apply before terraform destroy."
  type        = bool
  default     = true
}

variable "archive_force_destroy" {
  description = "Let terraform destroy delete the archive bucket with its objects; set to true and apply before terraform destroy."
  type        = bool
  default     = false
}

variable "alarm_email" {
  description = "Email address subscribed to the alarm topic (AWS mails a confirmation link first); null: no subscription."
  type        = string
  default     = null
}

variable "monthly_budget_usd" {
  description = "Monthly cost budget in USD for what carries the project tag, notifying the alarm topic; null: no budget."
  type        = number
  default     = null
}
