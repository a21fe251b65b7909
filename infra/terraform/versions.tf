terraform {
  # 1.5: variable validation, lifecycle preconditions and object indexing used here.
  required_version = ">= 1.5.0"

  required_providers {
    aws = {
      source = "hashicorp/aws"
      # 5.70 added tags on aws_lambda_event_source_mapping (5.26: aws_lambda_function.logging_config); 6.x works unchanged.
      version = ">= 5.70, < 7.0"
    }
  }
}
