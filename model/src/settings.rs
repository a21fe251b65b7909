//! The server's settings, from the environment SageMaker gives a container.

use std::net::IpAddr;
use std::path::PathBuf;

use shared::config::{ConfigError, Env, Source};

/// Where SageMaker puts the model artifacts of a hosted model.
pub const SAGEMAKER_MODEL_DIR: &str = "/opt/ml/model";
/// The port SageMaker expects when it sets no `SAGEMAKER_BIND_TO_PORT`.
pub const DEFAULT_PORT: u16 = 8080;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerSettings {
    /// `MODEL_DIR`: the folder holding `model.json` (default `/opt/ml/model`).
    pub model_dir: PathBuf,
    /// `BIND_ADDRESS`: all interfaces by default, as a container must listen.
    pub address: IpAddr,
    /// `SAGEMAKER_BIND_TO_PORT`: default 8080.
    pub port: u16,
    /// `ENDPOINT_NAME`: the only name `/endpoints/{name}/invocations` answers to (any if unset).
    pub endpoint_name: Option<String>,
}

impl ServerSettings {
    pub fn from_env<S: Source>(env: &Env<S>) -> Result<Self, ConfigError> {
        Ok(Self {
            model_dir: env.or_default("MODEL_DIR", PathBuf::from(SAGEMAKER_MODEL_DIR))?,
            address: env.or_default("BIND_ADDRESS", IpAddr::from([0, 0, 0, 0]))?,
            port: env.or_default("SAGEMAKER_BIND_TO_PORT", DEFAULT_PORT)?,
            endpoint_name: env.optional("ENDPOINT_NAME")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_follow_the_sagemaker_contract() {
        let settings = ServerSettings::from_env(&Env::from_pairs(&[])).unwrap();
        assert_eq!(settings.port, 8080);
        assert_eq!(settings.model_dir, PathBuf::from("/opt/ml/model"));
        assert_eq!(settings.address, IpAddr::from([0, 0, 0, 0]));
        assert_eq!(settings.endpoint_name, None);
    }

    #[test]
    fn every_setting_can_be_given_and_bad_values_are_named() {
        let env = Env::from_pairs(&[
            ("SAGEMAKER_BIND_TO_PORT", "9091"),
            ("MODEL_DIR", "model/artifacts"),
            ("BIND_ADDRESS", "127.0.0.1"),
            ("ENDPOINT_NAME", "local-model"),
        ]);
        let settings = ServerSettings::from_env(&env).unwrap();
        assert_eq!(settings.port, 9091);
        assert_eq!(settings.model_dir, PathBuf::from("model/artifacts"));
        assert_eq!(settings.endpoint_name.as_deref(), Some("local-model"));
        let error =
            ServerSettings::from_env(&Env::from_pairs(&[("SAGEMAKER_BIND_TO_PORT", "80800")]))
                .unwrap_err();
        assert!(
            error.to_string().contains("SAGEMAKER_BIND_TO_PORT"),
            "{error}"
        );
    }
}
