//! The admin API's one error shape: `{"error": {"code": "...", "message": "..."}}`.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// Stable, machine-readable: unauthenticated, forbidden, csrf, not_found, invalid, conflict, too_large, unsupported, throttled, unavailable, internal.
    pub code: String,
    pub message: String,
    /// The offending field, for `invalid`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub field: Option<String>,
    /// Seconds, sent as `Retry-After` (429, 503).
    pub retry_after: Option<u64>,
}

impl ApiError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self { status, code, message: message.into(), field: None, retry_after: None }
    }
    /// Too many attempts from here: try again in `seconds`.
    pub fn throttled(seconds: u64) -> Self {
        Self {
            retry_after: Some(seconds.max(1)),
            ..Self::new(StatusCode::TOO_MANY_REQUESTS, "throttled", "too many attempts from here; try again in a moment")
        }
    }
    /// Busy: try again in `seconds`.
    pub fn busy(seconds: u64, m: impl Into<String>) -> Self {
        Self { retry_after: Some(seconds.max(1)), ..Self::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", m) }
    }
    pub fn unauthenticated(m: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthenticated", m)
    }
    /// A change through the console's cookie without its anti-CSRF proof.
    pub fn csrf(m: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "csrf", m)
    }
    pub fn forbidden() -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", "your account may not do this")
    }
    pub fn not_found(what: &str) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", format!("no such {what}"))
    }
    pub fn invalid(field: &str, m: impl Into<String>) -> Self {
        Self { field: Some(field.to_string()), ..Self::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid", m) }
    }
    pub fn conflict(m: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "conflict", m)
    }
    pub fn too_large(m: impl Into<String>) -> Self {
        Self::new(StatusCode::PAYLOAD_TOO_LARGE, "too_large", m)
    }
    pub fn unsupported(m: impl Into<String>) -> Self {
        Self::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported", m)
    }
    /// A service Nuru depends on did not answer; nothing was changed.
    pub fn unavailable(m: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", m)
    }
}

impl From<crate::storage::StorageError> for ApiError {
    fn from(e: crate::storage::StorageError) -> Self {
        use crate::storage::StorageError as E;
        match e {
            E::NotFound(what) => Self::not_found(what),
            E::Conflict(what) => Self::conflict(format!("{what} already exists or changed")),
            // The database cannot be reached or is overloaded: worth a retry.
            other if other.is_unavailable() => {
                tracing::error!(error = %other, "admin API: database unavailable");
                Self::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", "temporarily unavailable")
            }
            // Anything else is our fault: logged once, opaque to the caller.
            other => {
                tracing::error!(error = %other, "admin API internal error");
                Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "internal error")
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody { error: ErrorDetail { code: self.code.to_string(), message: self.message, field: self.field } };
        let mut response = (self.status, Json(body)).into_response();
        if let Some(seconds) = self.retry_after {
            response.headers_mut().insert(axum::http::header::RETRY_AFTER, seconds.into());
        }
        response
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

/// `Json` whose rejection is the API's JSON error (422, naming the body). A
/// NUL character in any string (`\u0000`) is refused: no text a person
/// types holds one, and PostgreSQL cannot store it.
pub struct ApiJson<T>(pub T);

impl<T: serde::de::DeserializeOwned, S: Send + Sync> axum::extract::FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, Self::Rejection> {
        let (parts, body) = req.into_parts();
        let bytes = axum::body::Bytes::from_request(axum::extract::Request::from_parts(parts.clone(), body), state)
            .await
            .map_err(|e| ApiError::invalid("body", e.body_text()))?;
        if has_escaped_nul(&bytes) {
            return Err(ApiError::invalid("body", "text may not contain the NUL character (\\u0000)"));
        }
        let req = axum::extract::Request::from_parts(parts, axum::body::Body::from(bytes));
        Ok(ApiJson(axum::Json::<T>::from_request(req, state).await?.0))
    }
}

/// A JSON text holds `\u0000` (the escape itself, not an escaped backslash
/// followed by `u0000`). Raw control characters are invalid JSON anyway.
fn has_escaped_nul(json: &[u8]) -> bool {
    json.windows(6)
        .enumerate()
        .any(|(i, w)| w.eq_ignore_ascii_case(b"\\u0000") && json[..i].iter().rev().take_while(|b| **b == b'\\').count() % 2 == 0)
}

/// `Query` whose rejection is the API's JSON error (422, naming the query).
#[derive(axum::extract::FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct ApiQuery<T>(pub T);

/// `Path` whose rejection is the API's JSON error (422, naming the path).
#[derive(axum::extract::FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub struct ApiPath<T>(pub T);

/// `Multipart` whose rejection is the API's JSON error (422: not a
/// `multipart/form-data` body).
pub struct ApiMultipart(pub axum::extract::Multipart);

impl<S: Send + Sync> axum::extract::FromRequest<S> for ApiMultipart {
    type Rejection = ApiError;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, Self::Rejection> {
        Ok(ApiMultipart(axum::extract::Multipart::from_request(req, state).await?))
    }
}

impl From<axum::extract::multipart::MultipartRejection> for ApiError {
    fn from(r: axum::extract::multipart::MultipartRejection) -> Self {
        Self::invalid("body", format!("send multipart/form-data with a `file` field ({})", r.body_text()))
    }
}

impl From<axum::extract::rejection::JsonRejection> for ApiError {
    fn from(r: axum::extract::rejection::JsonRejection) -> Self {
        Self::invalid("body", r.body_text())
    }
}

impl From<axum::extract::rejection::QueryRejection> for ApiError {
    fn from(r: axum::extract::rejection::QueryRejection) -> Self {
        Self::invalid("query", r.body_text())
    }
}

impl From<axum::extract::rejection::PathRejection> for ApiError {
    fn from(r: axum::extract::rejection::PathRejection) -> Self {
        Self::invalid("path", r.body_text())
    }
}

/// The refusals every secured route may answer, documented once for all of
/// them in the OpenAPI document: a missing or bad token (401), a role too
/// small (403), a clinic or object the caller cannot see (404), a malformed
/// request (422). Routes add their own (409, 429) beside it.
#[derive(utoipa::IntoResponses)]
pub enum Refusals {
    #[response(status = 401)]
    Unauthenticated(ErrorBody),
    #[response(status = 403)]
    Forbidden(ErrorBody),
    #[response(status = 404)]
    NotFound(ErrorBody),
    #[response(status = 422)]
    Invalid(ErrorBody),
}

#[cfg(test)]
mod tests {
    #[test]
    fn an_escaped_nul_is_found_and_an_escaped_backslash_is_not_one() {
        assert!(super::has_escaped_nul(br#"{"name": "Ami\u0000na"}"#));
        assert!(super::has_escaped_nul(br#"{"name": "\\\U0000"}"#));
        assert!(!super::has_escaped_nul(br#"{"name": "C:\\u0000 is a path"}"#));
        assert!(!super::has_escaped_nul(br#"{"name": "Amina"}"#));
    }
}
