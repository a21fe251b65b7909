# Everything this module creates comes from the manifest, infra/stack.json: one table per
# manifest table, one function (with its role, policy and log group) per manifest function, one
# route per manifest route. Deployed names are "<name_prefix>-<manifest key>".
locals {
  stack = jsondecode(file("${path.module}/../stack.json"))

  # Every taggable resource gets exactly the manifest's cost-allocation tag keys; a key the
  # variable does not have fails the plan instead of going untagged.
  tags = { for key in local.stack.cost_allocation_tags : key => var.cost_allocation_tags[key] }

  package_dir = coalesce(var.package_dir, "${path.module}/../../target/lambda")

  # The HTTP API is optional in the manifest; when present its key is "http-api".
  http_apis = try(local.stack.http_api, null) == null ? {} : { "http-api" = local.stack.http_api }
  routes    = try(local.stack.http_api.routes, [])
}
