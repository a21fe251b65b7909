# Everything this module creates comes from the manifest, infra/stack.json: one table per
# manifest table, one queue per queue, one stream per stream, one event bus per bus with one rule
# (and target) per rule, one SageMaker endpoint (with its model, endpoint configuration and
# execution role) per model endpoint, one function (with its role, policy, log group and SQS or
# Kinesis event source mappings) per manifest function, one route per manifest route, and the
# monitoring: the alarm topic, one alarm per manifest alarm and per function and function alarm,
# the dashboard and the optional budget (monitoring.tf), and the archives: one bucket, and per
# archive a Firehose delivery stream with its role and log group (archive.tf). Deployed names
# are "<name_prefix>-<manifest key>" (FIFO queues end in ".fifo"; the archive bucket is
# "<name_prefix>-archive-<account id>").
locals {
  stack = jsondecode(file("${path.module}/../stack.json"))

  # Every taggable resource gets exactly the manifest's cost-allocation tag keys; a key the
  # variable does not have fails the plan instead of going untagged.
  tags = { for key in local.stack.cost_allocation_tags : key => var.cost_allocation_tags[key] }

  package_dir = coalesce(var.package_dir, "${path.module}/../../target/lambda")

  # The HTTP API is optional in the manifest; when present its key is "http-api".
  http_apis = try(local.stack.http_api, null) == null ? {} : { "http-api" = local.stack.http_api }
  routes    = try(local.stack.http_api.routes, [])

  # Queues, streams, event buses and model endpoints are optional in the manifest.
  queues          = try(local.stack.queues, {})
  streams         = try(local.stack.streams, {})
  event_buses     = try(local.stack.event_buses, {})
  model_endpoints = try(local.stack.model_endpoints, {})

  # Queue key -> its dead_letter {queue, max_receive_count}, for the queues that have one.
  dead_letters = {
    for key, queue in local.queues : key => queue.dead_letter if try(queue.dead_letter, null) != null
  }
  # Dead-letter queue key -> the keys of the queues that redrive to it.
  dead_letter_sources = { for key, dead_letter in local.dead_letters : dead_letter.queue => key... }

  # Every rule of every bus, by rule key (deployed as <name_prefix>-<rule key>, so rule keys are
  # unique across buses; a duplicate fails the plan with "Duplicate object key").
  event_rules = {
    for rule in flatten([
      for bus, spec in local.event_buses : [
        for key, rule_spec in spec.rules : { key = key, bus = bus, pattern = rule_spec.pattern, queue = rule_spec.target.queue }
      ]
    ]) : rule.key => rule
  }
  # Queue key -> the keys of the rules that target it: one queue policy per target queue.
  rule_target_queues = { for key, rule in local.event_rules : rule.queue => key... }

  # The deployment profile (var.profile): per event source (by the key of its queue or stream)
  # settings, and per function environment values, that replace the manifest's, as
  # crates/stack's Stack::with_profile makes them for the SAM render and the local stack, which
  # also check that they name what exists. An unknown profile fails the plan here.
  profile = var.profile == "" ? null : local.stack.profiles[var.profile]

  # Every event source of every function (an SQS queue or a Kinesis stream), with the profile's
  # settings, by "<function>/<queue or stream>".
  event_sources = {
    for source in flatten([
      for function, spec in local.stack.functions : [
        for source in try(spec.event_sources, []) : merge(
          source, try(local.profile.event_sources[try(source.queue, source.stream)], {}), { function = function }
        )
      ]
    ]) : "${source.function}/${try(source.queue, source.stream)}" => source
  }
  # The stream sources that read through an enhanced fan-out consumer of their own.
  fan_out_sources = { for key, source in local.event_sources : key => source if try(source.enhanced_fan_out, false) }
}

# The partition, region and account deployed to: the SageMaker role's ARNs (model_endpoints.tf),
# the alarm topic's policy and the dashboard's region (monitoring.tf), the archive bucket's name
# and the Firehose role's external id (archive.tf). aws_region's id is the
# region's name in provider 5 and 6 alike (6 deprecates name).
data "aws_partition" "current" {}
data "aws_region" "current" {}
data "aws_caller_identity" "current" {}
