//! The custom attributes (`X-Amzn-SageMaker-Custom-Attributes`, passed through by SageMaker
//! between caller and container) by which a model endpoint and its caller name the feature
//! spec version of rows and models: the train/serve skew guard's wire format.
//!
//! A caller sends `featureSpecVersion=<its version>`; a container answers
//! `modelVersion=<version>,featureSpecVersion=<version it was trained on>`.

/// The feature spec version of the rows (request) or of the model (answer).
pub const SPEC_VERSION_ATTRIBUTE: &str = "featureSpecVersion";
/// The version of the model that scored (answer).
pub const MODEL_VERSION_ATTRIBUTE: &str = "modelVersion";

/// The value of `name` in custom attributes `k=v,k=v` (`;` also separates).
pub fn attribute<'a>(attributes: &'a str, name: &str) -> Option<&'a str> {
    attributes
        .split([',', ';'])
        .filter_map(|pair| pair.split_once('='))
        .find(|(key, _)| key.trim() == name)
        .map(|(_, value)| value.trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attributes_are_read_by_name() {
        let attributes = "modelVersion=m-1, featureSpecVersion=2;other=x";
        assert_eq!(attribute(attributes, SPEC_VERSION_ATTRIBUTE), Some("2"));
        assert_eq!(attribute(attributes, MODEL_VERSION_ATTRIBUTE), Some("m-1"));
        assert_eq!(attribute(attributes, "other"), Some("x"));
        assert_eq!(attribute(attributes, "missing"), None);
        assert_eq!(attribute("", SPEC_VERSION_ATTRIBUTE), None);
    }
}
