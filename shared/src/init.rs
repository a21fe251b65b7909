//! What every function's `main` does first, once, in this order: logs ([`crate::telemetry`]),
//! the function's settings (a bad one fails init with its name), the metrics collector named
//! after the function, and the SDK's configuration with the function's timeouts and retries.

use lambda_runtime::Error;

use crate::clients::{self, ClientSettings};
use crate::config::Env;
use crate::metrics::Collector;

/// What a function's `main` starts with.
pub struct Init<C> {
    /// The function's settings.
    pub config: C,
    /// The metrics collector, named after the function.
    pub metrics: &'static Collector,
    /// The SDK's configuration, to build the function's clients from ([`clients`]).
    pub sdk: aws_config::SdkConfig,
}

/// Logs, the function's settings (`settings` reads them), the metrics collector named after the
/// function, and the SDK's configuration with `client_settings`.
pub async fn init<C, E>(
    default_name: &str,
    client_settings: ClientSettings,
    settings: impl FnOnce(&Env) -> Result<C, E>,
) -> Result<Init<C>, Error>
where
    E: std::error::Error + Send + Sync + 'static,
{
    crate::telemetry::init();
    let env = Env::process();
    let config = settings(&env)?;
    let metrics = crate::metrics::init(&function_name(&env, default_name)?)?;
    let sdk = clients::load(client_settings).await;
    Ok(Init {
        config,
        metrics,
        sdk,
    })
}

/// The function's name, the metrics' `FunctionName` dimension: `AWS_LAMBDA_FUNCTION_NAME`, which
/// Lambda sets, else `default_name` (a local run).
pub fn function_name<S: crate::config::Source>(
    env: &Env<S>,
    default_name: &str,
) -> Result<String, crate::config::ConfigError> {
    env.or_default("AWS_LAMBDA_FUNCTION_NAME", default_name.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_function_name_is_lambdas_else_the_default() {
        let env = Env::from_pairs(&[("AWS_LAMBDA_FUNCTION_NAME", "prod-todo-api")]);
        assert_eq!(function_name(&env, "todo-api").unwrap(), "prod-todo-api");
        let local = Env::from_pairs(&[]);
        assert_eq!(function_name(&local, "todo-api").unwrap(), "todo-api");
    }
}
