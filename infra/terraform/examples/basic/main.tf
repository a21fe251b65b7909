# A root configuration that deploys the whole stack from this repository's checkout: the
# module reads infra/stack.json and the zips tools/package.sh wrote to target/lambda/.
provider "aws" {
  region = var.region
}

module "stack" {
  source = "../.."

  name_prefix               = var.name_prefix
  cost_allocation_tags      = var.cost_allocation_tags
  jwt_issuer                = var.jwt_issuer
  jwt_audience              = var.jwt_audience
  model_image_uri           = var.model_image_uri
  architecture              = var.architecture
  profile                   = var.profile
  table_deletion_protection = var.table_deletion_protection
  archive_force_destroy     = var.archive_force_destroy
  alarm_email               = var.alarm_email
  monthly_budget_usd        = var.monthly_budget_usd
}
