//! The local stand-in for the HTTP API's JWT authorizer.
//!
//! In AWS the authorizer checks the token's signature against the issuer's keys, then `iss`,
//! `aud`, `exp`, `nbf` and `iat`, and hands the claims to the function as strings. Locally
//! there is no identity provider, so tokens are minted by `local-stack token <sub>` with the
//! local issuer and audience, unsigned (`alg: none`), and every check but the signature is made
//! the way API Gateway makes it. A token is refused with 401 `{"message":"Unauthorized"}`, as
//! API Gateway refuses it, before any function runs.

use std::collections::HashMap;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value, json};

/// Issuer of locally minted tokens; `.invalid` is a reserved name that never resolves.
pub const LOCAL_ISSUER: &str = "https://issuer.local-stack.invalid/";
/// Audience the local authorizer expects (`aud`, or `client_id` as Cognito access tokens have).
pub const LOCAL_AUDIENCE: &str = "local-stack";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("no Authorization header")]
    Missing,
    #[error("the token is not a JWT: {0}")]
    Malformed(&'static str),
    #[error("issuer {0:?} is not the expected issuer")]
    WrongIssuer(String),
    #[error("the token is not for this audience")]
    WrongAudience,
    #[error("the token has no exp claim")]
    NoExpiry,
    #[error("the token expired")]
    Expired,
    #[error("the token is not valid yet")]
    NotYetValid,
}

/// What the authorizer passes on: `requestContext.authorizer.jwt`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Authorized {
    pub claims: HashMap<String, String>,
    pub scopes: Vec<String>,
}

/// An unsigned token for `sub`, valid from `now` for `ttl_seconds`.
pub fn mint(sub: &str, now: i64, ttl_seconds: i64) -> String {
    let header = json!({"alg": "none", "typ": "JWT"});
    let claims = json!({
        "iss": LOCAL_ISSUER,
        "aud": LOCAL_AUDIENCE,
        "sub": sub,
        "iat": now,
        "nbf": now,
        "exp": now + ttl_seconds,
    });
    format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    )
}

/// Checks the identity source value (`Authorization`, with or without `Bearer `) at `now`
/// (seconds since the epoch).
pub fn authorize(
    header: Option<&str>,
    now: i64,
    issuer: &str,
    audience: &str,
) -> Result<Authorized, AuthError> {
    let value = header.map(str::trim).filter(|v| !v.is_empty());
    let value = value.ok_or(AuthError::Missing)?;
    let token = match value.split_once(char::is_whitespace) {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("bearer") => rest.trim(),
        _ if value.eq_ignore_ascii_case("bearer") => "",
        _ => value,
    };
    if token.is_empty() {
        return Err(AuthError::Missing);
    }
    let mut parts = token.split('.');
    let (Some(_header), Some(payload), Some(_signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(AuthError::Malformed("expected three dot-separated parts"));
    };
    let payload = URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .map_err(|_| AuthError::Malformed("the payload is not base64url"))?;
    let claims: Map<String, Value> = serde_json::from_slice(&payload)
        .map_err(|_| AuthError::Malformed("the payload is not a JSON object"))?;

    match claims.get("iss").and_then(Value::as_str) {
        Some(iss) if iss == issuer => {}
        other => return Err(AuthError::WrongIssuer(other.unwrap_or_default().to_owned())),
    }
    let audience_matches = |claim: &str| match claims.get(claim) {
        Some(Value::String(aud)) => aud == audience,
        Some(Value::Array(auds)) => auds.iter().any(|aud| aud.as_str() == Some(audience)),
        _ => false,
    };
    if !audience_matches("aud") && !audience_matches("client_id") {
        return Err(AuthError::WrongAudience);
    }
    let time_claim = |name: &str| claims.get(name).and_then(Value::as_i64);
    match time_claim("exp") {
        None => return Err(AuthError::NoExpiry),
        Some(exp) if exp <= now => return Err(AuthError::Expired),
        Some(_) => {}
    }
    if time_claim("nbf").is_some_and(|nbf| nbf > now)
        || time_claim("iat").is_some_and(|iat| iat > now)
    {
        return Err(AuthError::NotYetValid);
    }

    let scopes = ["scope", "scp"]
        .iter()
        .filter_map(|name| claims.get(*name))
        .flat_map(|value| match value {
            Value::String(text) => text.split_whitespace().map(str::to_owned).collect(),
            Value::Array(items) => items
                .iter()
                .filter_map(|item| item.as_str().map(str::to_owned))
                .collect(),
            _ => Vec::new(),
        })
        .collect();
    let claims = claims
        .into_iter()
        .map(|(name, value)| (name, claim_string(&value)))
        .collect();
    Ok(Authorized { claims, scopes })
}

/// API Gateway hands claims to the function as strings: numbers and booleans in their JSON
/// form, arrays as `[a b]`.
fn claim_string(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Array(items) => {
            let items: Vec<String> = items.iter().map(claim_string).collect();
            format!("[{}]", items.join(" "))
        }
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_800_000_000;

    fn check(header: &str) -> Result<Authorized, AuthError> {
        authorize(Some(header), NOW, LOCAL_ISSUER, LOCAL_AUDIENCE)
    }

    fn token_with(claims: Value) -> String {
        format!(
            "{}.{}.",
            URL_SAFE_NO_PAD.encode(r#"{"alg":"none"}"#),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        )
    }

    #[test]
    fn a_minted_token_passes_with_or_without_bearer() {
        let token = mint("user-alice", NOW, 3600);
        for header in [format!("Bearer {token}"), token.clone()] {
            let authorized = check(&header).unwrap();
            assert_eq!(authorized.claims["sub"], "user-alice");
            assert_eq!(authorized.claims["exp"], (NOW + 3600).to_string());
            assert!(authorized.scopes.is_empty());
        }
    }

    #[test]
    fn each_failed_check_has_its_reason() {
        assert_eq!(
            authorize(None, NOW, LOCAL_ISSUER, LOCAL_AUDIENCE),
            Err(AuthError::Missing)
        );
        assert_eq!(check("Bearer "), Err(AuthError::Missing));
        assert!(matches!(check("Bearer abc"), Err(AuthError::Malformed(_))));
        assert!(matches!(check("a.!!!.b"), Err(AuthError::Malformed(_))));
        assert_eq!(check(&mint("u", NOW - 7200, 3600)), Err(AuthError::Expired));
        assert_eq!(
            check(&mint("u", NOW + 60, 3600)),
            Err(AuthError::NotYetValid)
        );
        let base = json!({"iss": LOCAL_ISSUER, "aud": LOCAL_AUDIENCE, "sub": "u", "exp": NOW + 60});
        let mut other_issuer = base.clone();
        other_issuer["iss"] = "https://elsewhere/".into();
        assert_eq!(
            check(&token_with(other_issuer)),
            Err(AuthError::WrongIssuer("https://elsewhere/".into()))
        );
        let mut other_audience = base.clone();
        other_audience["aud"] = json!(["someone-else"]);
        assert_eq!(
            check(&token_with(other_audience)),
            Err(AuthError::WrongAudience)
        );
        let mut no_expiry = base.clone();
        no_expiry.as_object_mut().unwrap().remove("exp");
        assert_eq!(check(&token_with(no_expiry)), Err(AuthError::NoExpiry));
    }

    #[test]
    fn claims_become_strings_and_scopes_are_split() {
        let claims = json!({
            "iss": LOCAL_ISSUER,
            "client_id": LOCAL_AUDIENCE,
            "sub": "u",
            "exp": NOW + 60,
            "email_verified": true,
            "groups": ["admin", "dev"],
            "scope": "tasks/read tasks/write",
        });
        let authorized = check(&token_with(claims)).unwrap();
        assert_eq!(authorized.claims["email_verified"], "true");
        assert_eq!(authorized.claims["groups"], "[admin dev]");
        assert_eq!(authorized.scopes, ["tasks/read", "tasks/write"]);
    }
}
