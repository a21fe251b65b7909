//! Who is calling: the `sub` claim the API's JWT authorizer verified.

use lambda_http::request::RequestContext;
use lambda_http::{Request, RequestExt};
use shared::http::ApiError;

/// Longest accepted subject. OpenID Connect caps `sub` at 255 ASCII characters.
const MAX_SUBJECT_LEN: usize = 255;

/// The verified caller; every task is stored under its owner's subject.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner(String);

impl Owner {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The caller's identity from the JWT authorizer's claims. The function trusts the
/// authorizer (API Gateway verified the token before invoking); with no verified `sub` there is
/// no owner to act for, so the answer is 401.
pub fn owner(request: &Request) -> Result<Owner, ApiError> {
    let sub = match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(context)) => context
            .authorizer
            .as_ref()
            .and_then(|authorizer| authorizer.jwt.as_ref())
            .and_then(|jwt| jwt.claims.get("sub")),
        _ => None,
    };
    // The subject is used exactly as signed: trimming would let " alice" act as "alice".
    match sub.map(String::as_str) {
        None | Some("") => Err(ApiError::Unauthorized(
            "no verified identity: the request carries no JWT sub claim".to_owned(),
        )),
        Some(sub) if sub.len() > MAX_SUBJECT_LEN => Err(ApiError::Unauthorized(format!(
            "the JWT sub claim is longer than {MAX_SUBJECT_LEN} bytes"
        ))),
        Some(sub) if sub.trim() != sub || sub.chars().any(char::is_control) => Err(
            ApiError::Unauthorized("the JWT sub claim is malformed".to_owned()),
        ),
        Some(sub) => Ok(Owner(sub.to_owned())),
    }
}
