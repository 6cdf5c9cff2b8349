//! Conditional reads for the admin API: every successful `GET` answer
//! carries an `ETag` (a hash of its body), and a request repeating it in
//! `If-None-Match` gets `304 Not Modified` with no body. The console polls
//! its inbox and conversations this way every few seconds, so an unchanged
//! inbox costs a few hundred bytes on a slow connection. Answers are marked
//! `private, no-cache`: no shared cache keeps health data.

use axum::body::{Body, HttpBody, to_bytes};
use axum::extract::Request;
use axum::http::header::{CACHE_CONTROL, ETAG, IF_NONE_MATCH};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::Digest;

/// Bodies larger than this (document files) pass through unhashed.
const MAX_HASHED: usize = 4 * 1024 * 1024;

pub async fn conditional(request: Request, next: Next) -> Response {
    if request.method() != Method::GET || request.uri().path().ends_with("/content") {
        return next.run(request).await;
    }
    let sent = request.headers().get(IF_NONE_MATCH).cloned();
    let response = next.run(request).await;
    if response.status() != StatusCode::OK {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    // A body of unknown or large size passes as it is.
    if body.size_hint().upper().is_none_or(|n| n > MAX_HASHED as u64) {
        return Response::from_parts(parts, body);
    }
    let Ok(bytes) = to_bytes(body, MAX_HASHED).await else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let digest: String = sha2::Sha256::digest(&bytes).iter().take(12).map(|b| format!("{b:02x}")).collect();
    let tag = HeaderValue::from_str(&format!("\"{digest}\"")).expect("hex is a valid header");
    parts.headers.insert(CACHE_CONTROL, HeaderValue::from_static("private, no-cache"));
    if sent.as_ref().is_some_and(|s| s.as_bytes().split(|b| *b == b',').any(|t| t.trim_ascii() == tag.as_bytes())) {
        let mut not_modified = StatusCode::NOT_MODIFIED.into_response();
        not_modified.headers_mut().insert(ETAG, tag);
        not_modified.headers_mut().insert(CACHE_CONTROL, HeaderValue::from_static("private, no-cache"));
        return not_modified;
    }
    parts.headers.insert(ETAG, tag);
    Response::from_parts(parts, Body::from(bytes))
}
