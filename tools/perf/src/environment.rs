//! The environment a function process gets, as Lambda would give it: Lambda's variables, the
//! function's configured ones from the manifest (resource names under a prefix), and an SDK
//! endpoint nothing listens on, so a function that calls AWS during init fails loudly instead
//! of being measured with a network round trip in it.

use std::path::Path;

use emulator::functions::FunctionSettings;
use emulator::resources::{Queue, Resources};
use stack::Stack;

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

/// Function `function` as the local stack would run it (Lambda's variables, its configured
/// ones under `resources`' prefix), its SDK pointed at `endpoint` with throwaway credentials.
pub fn function_settings(
    stack: &Stack,
    resources: &Resources,
    function: &str,
    functions_dir: &Path,
    endpoint: &str,
) -> Result<FunctionSettings, UnknownFunction> {
    let spec = stack
        .functions
        .get(function)
        .ok_or_else(|| UnknownFunction(function.to_owned()))?;
    let mut environment = resources.function_environment(spec);
    environment.extend(
        [
            ("AWS_ACCESS_KEY_ID", "perf"),
            ("AWS_SECRET_ACCESS_KEY", "perf"),
            ("AWS_ENDPOINT_URL", endpoint),
        ]
        .map(|(name, value)| (name.to_owned(), value.to_owned())),
    );
    Ok(FunctionSettings::from_manifest(
        function,
        spec,
        resources,
        functions_dir,
        environment,
        REGION,
        1,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_configured_variable_is_set_from_the_manifest() {
        let stack = Stack::workspace();
        let resources = named_resources(&stack, "perf");
        let settings = function_settings(
            &stack,
            &resources,
            "event-router",
            Path::new("bin"),
            UNREACHABLE_ENDPOINT,
        )
        .unwrap();
        assert_eq!(settings.binary, Path::new("bin/event-router"));
        let variables = settings.process_environment("127.0.0.1:1", 0, 0);
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
        assert_eq!(get("AWS_ENDPOINT_URL"), Some(UNREACHABLE_ENDPOINT));
        assert_eq!(get("AWS_LAMBDA_FUNCTION_NAME"), Some("perf-event-router"));
        assert!(function_settings(&stack, &resources, "nope", Path::new("bin"), "x").is_err());
    }
}
