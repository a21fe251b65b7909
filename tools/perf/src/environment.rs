//! The environment a function process gets, as Lambda would give it: Lambda's variables, the
//! function's configured ones from the manifest (resource names under a prefix), and an SDK
//! endpoint nothing listens on, so a function that calls AWS during init fails loudly instead
//! of being measured with a network round trip in it.

use local_stack::resources::{Queue, Resources};
use shared::stack::{Stack, resource_name};

/// Where the SDK would send requests: the discard port on loopback, closed.
pub const UNREACHABLE_ENDPOINT: &str = "http://127.0.0.1:9";
pub const REGION: &str = "us-east-1";
const ACCOUNT: &str = "000000000000";

#[derive(Debug, thiserror::Error)]
#[error("the manifest has no function {0}")]
pub struct UnknownFunction(pub String);

/// The manifest's resources under `prefix`, with the queue URLs and ARNs they would have in
/// an account (nothing is created).
pub fn named_resources(stack: &Stack, prefix: &str) -> Resources {
    let mut resources = Resources::name(stack, prefix);
    for (key, spec) in &stack.queues {
        let name = spec.deployed_name(prefix, key);
        let queue = Queue {
            url: format!("https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/{name}"),
            arn: format!("arn:aws:sqs:{REGION}:{ACCOUNT}:{name}"),
            name,
        };
        resources.queues.insert(key.clone(), queue);
    }
    resources
}

pub fn function_environment(
    stack: &Stack,
    resources: &Resources,
    function: &str,
    runtime_api: &str,
) -> Result<Vec<(String, String)>, UnknownFunction> {
    let spec = stack
        .functions
        .get(function)
        .ok_or_else(|| UnknownFunction(function.to_owned()))?;
    let deployed = resource_name(&resources.prefix, function);
    let mut variables: Vec<(String, String)> = [
        ("PATH", "/usr/bin:/bin".to_owned()),
        ("AWS_LAMBDA_RUNTIME_API", runtime_api.to_owned()),
        ("AWS_LAMBDA_FUNCTION_NAME", deployed.clone()),
        (
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
            spec.memory_mb.to_string(),
        ),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".to_owned()),
        (
            "AWS_LAMBDA_LOG_GROUP_NAME",
            format!("/aws/lambda/{deployed}"),
        ),
        ("AWS_LAMBDA_LOG_STREAM_NAME", "perf/1".to_owned()),
        ("AWS_LAMBDA_LOG_FORMAT", "JSON".to_owned()),
        ("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand".to_owned()),
        ("AWS_REGION", REGION.to_owned()),
        ("AWS_DEFAULT_REGION", REGION.to_owned()),
        ("AWS_ACCESS_KEY_ID", "perf".to_owned()),
        ("AWS_SECRET_ACCESS_KEY", "perf".to_owned()),
        ("AWS_ENDPOINT_URL", UNREACHABLE_ENDPOINT.to_owned()),
        ("_HANDLER", "bootstrap".to_owned()),
    ]
    .into_iter()
    .map(|(name, value)| (name.to_owned(), value))
    .collect();
    variables.extend(resources.function_environment(spec));
    Ok(variables)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_configured_variable_is_set_from_the_manifest() {
        let stack = Stack::workspace();
        let resources = named_resources(&stack, "perf");
        let variables =
            function_environment(&stack, &resources, "event-router", "127.0.0.1:1").unwrap();
        let get = |name: &str| {
            variables
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(get("ACTIVITY_STREAM"), Some("perf-activity"));
        assert_eq!(
            get("ORDERS_QUEUE_URL"),
            Some("https://sqs.us-east-1.amazonaws.com/000000000000/perf-orders.fifo")
        );
        assert_eq!(get("AWS_LAMBDA_RUNTIME_API"), Some("127.0.0.1:1"));
        assert_eq!(get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE"), Some("256"));
        for name in stack.functions["event-router"].environment.keys() {
            assert!(get(name).is_some(), "{name} missing");
        }
        assert!(function_environment(&stack, &resources, "nope", "x").is_err());
    }
}
