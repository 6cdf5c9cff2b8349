//! The console's session: sign in with an account of the admin API, and
//! receive the access token (sent to `/api` only) and the refresh token
//! (sent to these routes only) as HttpOnly, SameSite=Strict cookies — Secure
//! whenever the public address is HTTPS. The body carries only the
//! anti-CSRF token the page repeats on every change; it is bound to the
//! access token, so another session's value is refused.

use crate::admin::auth::{self, ACCESS_MINUTES};
use crate::admin::cookies::{ACCESS_COOKIE, REFRESH_COOKIE, cookie, same_origin};
use crate::admin::error::{ApiError, ApiJson, ApiResult};
use crate::admin::routes::{LoginRequest, SignedIn, rotate, sign_in, sign_out};
use crate::app_state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::header::SET_COOKIE;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

#[derive(Debug, Serialize)]
pub struct Session {
    /// Repeat in `X-CSRF-Token` on every change.
    pub csrf: String,
    /// Seconds until the access cookie expires; refresh before.
    pub expires_in: i64,
}

fn secure(state: &AppState) -> &'static str {
    if state.config.public_base_url.starts_with("https://") { "; Secure" } else { "" }
}

fn set_cookies(state: &AppState, signed: &SignedIn) -> Response {
    let (user, refresh) = (signed.user, signed.refresh.as_str());
    let csrf = crate::secrets::random_token();
    let access = auth::issue_console_access(&state.jwt, user, signed.session, state.clock.now(), &csrf);
    let secure = secure(state);
    let mut response = Json(Session { csrf, expires_in: ACCESS_MINUTES * 60 }).into_response();
    let headers = response.headers_mut();
    for value in [
        format!("{ACCESS_COOKIE}={access}; Path=/api; HttpOnly; SameSite=Strict; Max-Age={}{secure}", ACCESS_MINUTES * 60),
        // A session cookie: closing the browser of a shared desk ends it.
        format!("{REFRESH_COOKIE}={refresh}; Path=/console/session; HttpOnly; SameSite=Strict{secure}"),
    ] {
        headers.append(SET_COOKIE, HeaderValue::from_str(&value).expect("tokens are URL-safe"));
    }
    headers.insert(axum::http::header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn clear_cookies(state: &AppState) -> Response {
    let secure = secure(state);
    let mut response = StatusCode::NO_CONTENT.into_response();
    for value in [
        format!("{ACCESS_COOKIE}=; Path=/api; HttpOnly; SameSite=Strict; Max-Age=0{secure}"),
        format!("{REFRESH_COOKIE}=; Path=/console/session; HttpOnly; SameSite=Strict; Max-Age=0{secure}"),
    ] {
        response.headers_mut().append(SET_COOKIE, HeaderValue::from_str(&value).expect("ASCII"));
    }
    response
}

/// `POST /console/session`: e-mail and password, checked, locked and
/// audited exactly as `POST /api/auth/login`.
pub async fn login(
    State(state): State<AppState>,
    client: crate::admin::auth::ClientIp,
    headers: HeaderMap,
    ApiJson(req): ApiJson<LoginRequest>,
) -> ApiResult<Response> {
    same_origin(&headers)?;
    let signed = sign_in(&state, &req, client).await?;
    Ok(set_cookies(&state, &signed))
}

/// `POST /console/session/refresh`: rotates the refresh cookie (a reused
/// one revokes the family) and issues a new access cookie and CSRF token.
pub async fn refresh(State(state): State<AppState>, headers: HeaderMap) -> ApiResult<Response> {
    same_origin(&headers)?;
    let token = cookie(&headers, REFRESH_COOKIE).ok_or_else(|| ApiError::unauthenticated("no console session"))?;
    match rotate(&state, &token).await {
        Ok(signed) => Ok(set_cookies(&state, &signed)),
        Err(e) if e.status == StatusCode::UNAUTHORIZED => {
            let mut response = e.into_response();
            let cleared = clear_cookies(&state);
            for v in cleared.headers().get_all(SET_COOKIE) {
                response.headers_mut().append(SET_COOKIE, v.clone());
            }
            Ok(response)
        }
        Err(e) => Err(e),
    }
}

/// `POST /console/session/logout`: revokes the session's refresh family
/// and clears both cookies.
pub async fn logout(State(state): State<AppState>, headers: HeaderMap) -> ApiResult<Response> {
    same_origin(&headers)?;
    if let Some(token) = cookie(&headers, REFRESH_COOKIE) {
        sign_out(&state, &token).await?;
    }
    Ok(clear_cookies(&state))
}
