//! Accounts and tokens: log in, rotate a refresh token, sign out, who am I.

use super::*;
use crate::admin::auth::{self, Caller};
use crate::admin::error::{ApiError, ApiJson, ApiResult, ErrorBody, Refusals};
use crate::app_state::AppState;
use crate::storage::NewAuditEvent;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::Duration;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub email: String,
    pub password: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    pub refresh_token: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TokenPair {
    pub access_token: String,
    pub refresh_token: String,
    pub token_type: String,
    /// Seconds until the access token expires.
    pub expires_in: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MembershipView {
    pub clinic_id: String,
    #[schema(value_type = crate::admin::schema::ClinicRole)]
    pub role: ClinicRole,
    /// For a practitioner's account: whose agenda is theirs.
    pub practitioner_id: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MeView {
    pub user_id: String,
    pub email: String,
    pub superadmin: bool,
    pub memberships: Vec<MembershipView>,
    /// The server's clock: clients count "today" and "upcoming" from it, not
    /// from a desk computer's own clock.
    pub now: chrono::DateTime<chrono::Utc>,
}

/// Exchanges e-mail and password for tokens. Attempts are throttled per
/// client address and per e-mail from that address (429 with Retry-After),
/// the same for unknown e-mails, which cost the same time as known ones;
/// too many sign-ins hashing at once get a fast 503.
#[utoipa::path(post, path = "/api/auth/login", tag = "auth", request_body = LoginRequest,
    responses((status = 200, body = TokenPair), (status = 401, body = ErrorBody), (status = 429, body = ErrorBody), (status = 422, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn login(
    State(state): State<AppState>,
    client: auth::ClientIp,
    ApiJson(req): ApiJson<LoginRequest>,
) -> ApiResult<Json<TokenPair>> {
    let signed = sign_in(&state, &req, client).await?;
    Ok(Json(TokenPair {
        access_token: auth::issue_session_access(&state.jwt, signed.user, signed.session, state.clock.now()),
        refresh_token: signed.refresh,
        token_type: "Bearer".into(),
        expires_in: auth::ACCESS_MINUTES * 60,
    }))
}

/// A sign-in: the account, its session (refresh-token family) and the
/// session's current refresh token.
#[derive(Debug)]
pub struct SignedIn {
    pub user: Uuid,
    pub session: Uuid,
    pub refresh: String,
}

/// Checks e-mail and password (locking, audit) and starts a refresh-token
/// family: the account and its first refresh token. Shared with the console.
pub async fn sign_in(state: &AppState, req: &LoginRequest, client: auth::ClientIp) -> ApiResult<SignedIn> {
    let now = state.clock.now();
    state.logins.admit(&req.email, client.0)?;
    // One turn to hash, for known and unknown e-mails alike.
    let _turn = state.logins.hashing().await?;
    let user = state.store.user_by_email(req.email.trim()).await?;
    let Some(user) = user.filter(|u| u.active) else {
        auth::verify_password_blocking(req.password.clone(), None).await;
        // Anyone can send these: not audited per attempt, a rate-limited system event instead.
        state.store.system_event(None, "login_unknown_account", "", now).await?;
        state.logins.failed(&req.email, client.0);
        return Err(ApiError::unauthenticated("wrong e-mail or password"));
    };
    let account = user.id.to_string();
    let login = |outcome| NewAuditEvent {
        actor: Some(user.id),
        clinic: None,
        action: "login",
        resource: "account",
        resource_id: Some(&account),
        outcome,
    };
    if !auth::verify_password_blocking(req.password.clone(), Some(user.password_hash.expose().to_string())).await {
        state.logins.failed(&req.email, client.0);
        state.store.audit(&login("wrong_password"), now).await?;
        return Err(ApiError::unauthenticated("wrong e-mail or password"));
    }
    state.logins.succeeded(&req.email, client.0);
    state.store.login_succeeded(user.id).await?;
    state.store.audit(&login("ok"), now).await?;
    let session = Uuid::new_v4();
    let refresh = auth::issue_refresh(&state.store, user.id, session, now).await?;
    Ok(SignedIn { user: user.id, session, refresh })
}

/// Rotates a refresh token. A token used twice revokes its whole family.
#[utoipa::path(post, path = "/api/auth/refresh", tag = "auth", request_body = RefreshRequest,
    responses((status = 200, body = TokenPair), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn refresh(State(state): State<AppState>, ApiJson(req): ApiJson<RefreshRequest>) -> ApiResult<Json<TokenPair>> {
    let signed = rotate(&state, &req.refresh_token).await?;
    Ok(Json(TokenPair {
        access_token: auth::issue_session_access(&state.jwt, signed.user, signed.session, state.clock.now()),
        refresh_token: signed.refresh,
        token_type: "Bearer".into(),
        expires_in: auth::ACCESS_MINUTES * 60,
    }))
}

/// Uses a refresh token once: the account and the family's next token. A
/// token used twice revokes its family. Shared with the console.
pub async fn rotate(state: &AppState, refresh_token: &str) -> ApiResult<SignedIn> {
    let now = state.clock.now();
    let row = state
        .store
        .refresh_token(&auth::token_hash(refresh_token))
        .await?
        .ok_or_else(|| ApiError::unauthenticated("unknown refresh token"))?;
    if row.revoked_at.is_some() || row.expires_at <= now {
        return Err(ApiError::unauthenticated("refresh token expired or revoked"));
    }
    // Rotation keeps a session going, but not past its maximum lifetime.
    if state.store.session_started(row.family_id).await?.is_none_or(|t| t + Duration::days(auth::SESSION_MAX_DAYS) <= now) {
        state.store.revoke_refresh_family(row.family_id, now).await?;
        return Err(ApiError::unauthenticated("session too old; sign in again"));
    }
    if row.used_at.is_some() || !state.store.use_refresh_token(row.id, now).await? {
        // Reuse: someone else holds a copy. Revoke the family.
        state.store.revoke_refresh_family(row.family_id, now).await?;
        state
            .store
            .audit(
                &NewAuditEvent {
                    actor: Some(row.user_id),
                    clinic: None,
                    action: "refresh",
                    resource: "account",
                    resource_id: Some(&row.user_id.to_string()),
                    outcome: "reuse_detected",
                },
                now,
            )
            .await?;
        return Err(ApiError::unauthenticated("refresh token reused; sign in again"));
    }
    let user = state.store.user(row.user_id).await?.filter(|u| u.active).ok_or_else(|| ApiError::unauthenticated("unknown account"))?;
    let refresh = auth::issue_refresh(&state.store, user.id, row.family_id, now).await?;
    Ok(SignedIn { user: user.id, session: row.family_id, refresh })
}

/// Revokes the refresh token's family (sign out everywhere it was passed on).
#[utoipa::path(post, path = "/api/auth/logout", tag = "auth", request_body = RefreshRequest, responses((status = 204), (status = 422, body = ErrorBody)))]
pub async fn logout(State(state): State<AppState>, ApiJson(req): ApiJson<RefreshRequest>) -> ApiResult<StatusCode> {
    sign_out(&state, &req.refresh_token).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Revokes the family of `refresh_token`, if it is one.
pub async fn sign_out(state: &AppState, refresh_token: &str) -> ApiResult<()> {
    if let Some(row) = state.store.refresh_token(&auth::token_hash(refresh_token)).await? {
        state.store.revoke_refresh_family(row.family_id, state.clock.now()).await?;
    }
    Ok(())
}

#[utoipa::path(get, path = "/api/me", tag = "auth", security(("bearer" = [])),
    responses((status = 200, body = MeView), Refusals))]
pub async fn me(State(state): State<AppState>, caller: Caller) -> Json<MeView> {
    Json(MeView {
        now: state.clock.now(),
        user_id: caller.user_id.to_string(),
        email: caller.email.clone(),
        superadmin: caller.superadmin,
        memberships: caller
            .memberships
            .iter()
            .map(|m| MembershipView {
                clinic_id: m.clinic_id.to_string(),
                role: m.role,
                practitioner_id: m.practitioner_id.map(|p| p.to_string()),
            })
            .collect(),
    })
}
