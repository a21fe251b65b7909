variable "name_prefix" {
  description = "Prefix of every deployed name: <name_prefix>-<manifest key>, e.g. \"prod\" gives the table prod-tasks and the function prod-todo-api."
  type        = string

  validation {
    condition     = can(regex("^[a-zA-Z][a-zA-Z0-9-]{0,39}$", var.name_prefix))
    error_message = "name_prefix must be 1-40 characters: letters, digits and hyphens, starting with a letter (Lambda function and IAM role names are limited to 64 characters)."
  }
}

variable "cost_allocation_tags" {
  description = "Values of the cost-allocation tags (keys from the manifest's cost_allocation_tags) set on every resource that takes tags."
  type = object({
    cost_center = string
    project     = string
    environment = string
  })

  validation {
    condition     = alltrue([for value in values(var.cost_allocation_tags) : trimspace(value) != ""])
    error_message = "cost_allocation_tags: cost_center, project and environment must all be non-empty."
  }
}

variable "jwt_issuer" {
  description = "Issuer URL of the JWT identity provider (the token's iss claim), e.g. https://cognito-idp.<region>.amazonaws.com/<user pool id>."
  type        = string

  validation {
    condition     = can(regex("^https://.+", var.jwt_issuer))
    error_message = "jwt_issuer must be an https:// URL."
  }
}

variable "jwt_audience" {
  description = "Accepted audiences (the token's aud claim, or client_id for Cognito access tokens)."
  type        = list(string)

  validation {
    condition     = length(var.jwt_audience) > 0 && alltrue([for audience in var.jwt_audience : trimspace(audience) != ""])
    error_message = "jwt_audience must name at least one audience, none of them empty."
  }
}

variable "architecture" {
  description = "Instruction set of every function: arm64 or x86_64. null (the default) takes each function's architecture from the manifest. Must match the zips tools/package.sh built."
  type        = string
  default     = null

  validation {
    condition     = var.architecture == null ? true : contains(["arm64", "x86_64"], var.architecture)
    error_message = "architecture must be arm64, x86_64 or null."
  }
}

variable "profile" {
  description = "One of the manifest's profiles (infra/stack.json `profiles`, e.g. low-latency): its event source settings and environment values replace the manifest's. Empty (the default) deploys the manifest as it is."
  type        = string
  default     = ""
  nullable    = false
}

variable "package_dir" {
  description = "Directory holding <function>/bootstrap.zip for every manifest function, as tools/package.sh writes them. null means the repository's target/lambda (<module>/../../target/lambda)."
  type        = string
  default     = null
}

variable "table_deletion_protection" {
  description = "Refuse to delete the tables (they hold user data). Set to false and apply before destroying the stack."
  type        = bool
  default     = true
}

variable "archive_force_destroy" {
  description = "Let terraform destroy delete the archive bucket with every object and version in it. false (the default): the destroy fails while the bucket holds objects, the only copy of the activity past the stream's 24 hours. Set to true and apply before destroying the stack to delete them."
  type        = bool
  default     = false
}

# No default: the stack must not come up scoring with some other image. The pattern is the SAM
# template's ModelImageUri AllowedPattern: an ECR URI with an explicit tag or digest, from which
# the endpoint role's ECR statement takes the repository ARN.
variable "model_image_uri" {
  description = "ECR URI of the model server image (built from model/Dockerfile and pushed to ECR in the deployment's account and region) with an explicit tag or digest, e.g. 123456789012.dkr.ecr.eu-west-1.amazonaws.com/purchase-model:1; the image of the manifest's model endpoint whose image_parameter is ModelImageUri."
  type        = string

  validation {
    condition     = can(regex("^[0-9]{12}\\.dkr\\.ecr\\.[a-z0-9-]+\\.amazonaws\\.com/[a-z0-9]+(?:[._/-][a-z0-9]+)*(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}|@sha256:[0-9a-f]{64})$", var.model_image_uri))
    error_message = "model_image_uri must be an ECR image URI <account>.dkr.ecr.<region>.amazonaws.com/<repository> with :<tag> or @sha256:<digest>."
  }
}

# The manifest's monitoring.alarm_topic.email_parameter (AlarmEmail in the SAM template).
variable "alarm_email" {
  description = "Email address subscribed to the alarm topic: alarms and budget notifications go there once the confirmation mail AWS sends has been followed. null (the default): no subscription (subscribe to the topic, output alarm_topic_arn, yourself)."
  type        = string
  default     = null

  validation {
    condition     = var.alarm_email == null ? true : can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", var.alarm_email))
    error_message = "alarm_email must be an email address, or null for no subscription."
  }
}

# The manifest's monitoring.budget.amount_parameter (MonthlyBudgetUsd in the SAM template).
variable "monthly_budget_usd" {
  description = "Monthly cost budget in USD for what carries this stack's filter tag (manifest monitoring.budget.filter_tag, the project tag); its notifications go to the alarm topic. null (the default): no budget."
  type        = number
  default     = null

  validation {
    condition     = var.monthly_budget_usd == null ? true : var.monthly_budget_usd > 0
    error_message = "monthly_budget_usd must be greater than 0, or null for no budget."
  }
}
