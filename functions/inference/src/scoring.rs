//! Pure decisions about scores: whose model answered (the skew guard), labels, fallbacks, and
//! the answer's shape.

use serde::Serialize;
use shared::features::endpoint_attributes::{
    MODEL_VERSION_ATTRIBUTE, SPEC_VERSION_ATTRIBUTE, attribute,
};
use shared::features::{FeatureVector, SpecVersion};
use shared::http::ApiError;

use crate::endpoint::ModelFailure;

/// The model that scored, as the endpoint described it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelIdentity {
    pub version: Option<String>,
    pub spec_version: u32,
}

/// The endpoint's model does not read the rows this code computes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SkewError {
    #[error(
        "the model endpoint serves model {model} trained on feature spec version {trained}; this API computes version {computed} (FEATURE_SPEC_VERSION), so its scores would be wrong and none is given"
    )]
    Mismatch {
        model: String,
        trained: String,
        computed: SpecVersion,
    },
    #[error(
        "the model endpoint does not report the feature spec version its model was trained on, so its scores cannot be trusted and none is given"
    )]
    Unreported,
}

/// Checks the answer's custom attributes against the spec version the rows were computed at.
/// `declared` stands in for an endpoint that reports nothing (MODEL_SPEC_VERSION, checked at
/// init).
pub fn identify(
    attributes: Option<&str>,
    declared: Option<u32>,
    computed: SpecVersion,
) -> Result<ModelIdentity, SkewError> {
    let attributes = attributes.unwrap_or_default();
    let version = attribute(attributes, MODEL_VERSION_ATTRIBUTE).map(str::to_owned);
    match (attribute(attributes, SPEC_VERSION_ATTRIBUTE), declared) {
        (Some(reported), _) if reported == computed.to_string() => Ok(ModelIdentity {
            version,
            spec_version: computed.number(),
        }),
        (Some(reported), _) => Err(SkewError::Mismatch {
            model: version.unwrap_or_else(|| "(unnamed)".into()),
            trained: reported.to_owned(),
            computed,
        }),
        (None, Some(declared)) => Ok(ModelIdentity {
            version,
            spec_version: declared,
        }),
        (None, None) => Err(SkewError::Unreported),
    }
}

/// Why a fallback score was given instead of the model's.
pub fn fallback_reason(failure: &ModelFailure) -> Option<&'static str> {
    match failure {
        // A container that refuses the rows (4xx: another spec version, a wrong width) says they
        // are wrong: that is a deployment fault too. Its own failures (5xx) may fall back.
        ModelFailure::ModelError {
            status: Some(400..=499),
            ..
        } => None,
        ModelFailure::ModelError { .. } => Some("model-error"),
        ModelFailure::Throttled(_) => Some("model-throttled"),
        ModelFailure::Timeout(_) => Some("model-timeout"),
        ModelFailure::Unavailable(_) => Some("model-unavailable"),
        // Deployment faults must surface, not hide behind a constant.
        ModelFailure::Misconfigured(_) | ModelFailure::BadAnswer(_) => None,
    }
}

/// The problem a client gets for `failure` when no fallback applies.
pub fn problem(failure: &ModelFailure, attempt_timeout_ms: u128, attempts: u32) -> ApiError {
    match failure {
        ModelFailure::ModelError {
            status: Some(status @ 400..=499),
            ..
        } => ApiError::BadGateway(format!(
            "the model endpoint refused the feature rows (its container answered {status}): the deployed model does not read what this API computes"
        )),
        ModelFailure::ModelError { status, .. } => ApiError::BadGateway(format!(
            "the model endpoint could not score this request: its model container answered {}",
            status.map_or("an error".to_owned(), |status| status.to_string())
        )),
        ModelFailure::Throttled(cause) | ModelFailure::Unavailable(cause) => {
            ApiError::Unavailable(cause.clone())
        }
        ModelFailure::Timeout(_) => ApiError::GatewayTimeout(format!(
            "the model endpoint did not answer in time ({attempts} attempts of {attempt_timeout_ms} ms)"
        )),
        ModelFailure::BadAnswer(cause) => {
            tracing::error!(%cause, "the model endpoint's answer is unreadable");
            ApiError::BadGateway(
                "the model endpoint's answer could not be read as one score per user".into(),
            )
        }
        ModelFailure::Misconfigured(cause) => ApiError::Internal(cause.clone()),
    }
}

/// `score >= threshold`.
pub fn label(score: f64, threshold: f64) -> bool {
    score >= threshold
}

/// One user's prediction.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Prediction {
    /// Names this prediction in the prediction record, to join outcomes to it later.
    pub prediction_id: String,
    pub user_id: String,
    pub score: f64,
    pub label: bool,
    /// Whether the score is the configured fallback rather than the model's.
    pub fallback: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fallback_reason: Option<&'static str>,
    /// False for a user with no stored features: the features are the spec's defaults.
    pub features_found: bool,
    /// The values the model was given, by name, in the spec's column order.
    pub features: FeatureVector,
}

/// Milliseconds spent, for the client and the logs.
#[derive(Debug, Clone, Copy, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Timings {
    pub feature_read_ms: f64,
    pub model_ms: f64,
    /// Everything else: parsing, evaluation, encoding, the answer.
    pub overhead_ms: f64,
    pub total_ms: f64,
}

/// The body of `POST /predict`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PredictResponse {
    #[serde(flatten)]
    pub prediction: Prediction,
    pub threshold: f64,
    /// `null` when the score is a fallback.
    pub model_version: Option<String>,
    pub feature_spec_version: u32,
    pub timings: Timings,
}

/// The body of `POST /predict/batch`: predictions in the order of the request's users.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchResponse {
    pub predictions: Vec<Prediction>,
    pub threshold: f64,
    pub model_version: Option<String>,
    pub feature_spec_version: u32,
    pub timings: Timings,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_model_of_this_spec_version_is_accepted_and_named() {
        let identity = identify(
            Some("modelVersion=m-1,featureSpecVersion=1"),
            None,
            SpecVersion::V1,
        )
        .unwrap();
        assert_eq!(identity.version.as_deref(), Some("m-1"));
        assert_eq!(identity.spec_version, 1);
        let identity = identify(
            Some("modelVersion=m-2,featureSpecVersion=2"),
            None,
            SpecVersion::V2,
        )
        .unwrap();
        assert_eq!(
            identity.spec_version, 2,
            "the version the rows were computed at"
        );
    }

    #[test]
    fn a_model_of_another_spec_version_is_refused_even_when_one_is_declared() {
        let error = identify(
            Some("modelVersion=m-2,featureSpecVersion=2"),
            Some(1),
            SpecVersion::V1,
        )
        .unwrap_err();
        let message = error.to_string();
        assert!(
            message.contains("model m-2 trained on feature spec version 2"),
            "{message}"
        );
        assert!(message.contains("computes version 1"), "{message}");
    }

    #[test]
    fn an_unreported_version_needs_a_declared_one() {
        assert_eq!(
            identify(None, None, SpecVersion::V1),
            Err(SkewError::Unreported)
        );
        assert_eq!(
            identify(Some("other=1"), None, SpecVersion::V1),
            Err(SkewError::Unreported)
        );
        let identity = identify(None, Some(1), SpecVersion::V1).unwrap();
        assert_eq!(
            identity,
            ModelIdentity {
                version: None,
                spec_version: 1
            }
        );
    }

    #[test]
    fn failures_map_to_statuses_and_only_runtime_ones_fall_back() {
        let model_error = |status| ModelFailure::ModelError {
            status,
            message: "secret detail".into(),
        };
        let cases = [
            (model_error(Some(400)), 502, None),
            (model_error(Some(500)), 502, Some("model-error")),
            (model_error(None), 502, Some("model-error")),
            (
                ModelFailure::Throttled("t".into()),
                503,
                Some("model-throttled"),
            ),
            (
                ModelFailure::Timeout("t".into()),
                504,
                Some("model-timeout"),
            ),
            (
                ModelFailure::Unavailable("u".into()),
                503,
                Some("model-unavailable"),
            ),
            (ModelFailure::BadAnswer("b".into()), 502, None),
            (ModelFailure::Misconfigured("m".into()), 500, None),
        ];
        for (failure, status, reason) in cases {
            let error = problem(&failure, 2_000, 2);
            assert_eq!(error.status().as_u16(), status, "{failure:?}");
            assert!(!error.detail().contains("secret"), "{error:?}");
            assert_eq!(fallback_reason(&failure), reason);
        }
        let timeout = problem(&ModelFailure::Timeout("t".into()), 2_000, 2).detail();
        assert!(timeout.contains("2 attempts of 2000 ms"), "{timeout}");
    }

    #[test]
    fn the_threshold_is_inclusive() {
        assert!(label(0.5, 0.5));
        assert!(!label(0.499_999, 0.5));
    }
}
