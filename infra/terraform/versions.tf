terraform {
  # 1.5: variable validation, lifecycle preconditions and object indexing used here.
  required_version = ">= 1.5.0"

  required_providers {
    aws = {
      source = "hashicorp/aws"
      # 5.26 added aws_lambda_function.logging_config; 6.x works unchanged.
      version = ">= 5.26, < 7.0"
    }
  }
}
