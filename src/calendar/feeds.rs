//! Calendar files over HTTP. The URLs carry a 256-bit random token (calendar
//! apps subscribe without credentials); an unknown token is a plain 404.
//!
//! - `GET /calendar/appointments/{token}.ics[?lang=en]`: one appointment, for
//!   the patient (linked from the confirmation message).
//! - `GET /calendar/practitioners/{token}.ics`: a practitioner's feed from 30
//!   days ago on, to subscribe to in Google Calendar, Outlook or Apple Calendar.

use crate::app_state::AppState;
use crate::calendar::ics;
use crate::domain::Lang;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::Duration;
use tracing::error;

#[derive(Debug, serde::Deserialize)]
pub struct LangQuery {
    lang: Option<String>,
}

fn token(file: &str) -> Option<&str> {
    let t = file.strip_suffix(".ics")?;
    (!t.is_empty() && t.len() <= 128 && t.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')).then_some(t)
}

fn not_found() -> Response {
    (StatusCode::NOT_FOUND, [(header::CONTENT_TYPE, "application/json")], r#"{"error":"no such calendar"}"#).into_response()
}

fn failure(e: impl std::fmt::Display) -> Response {
    error!(error = %e, "calendar feed failed");
    (StatusCode::SERVICE_UNAVAILABLE, [(header::CONTENT_TYPE, "application/json")], r#"{"error":"temporarily unavailable"}"#)
        .into_response()
}

fn calendar(body: String) -> Response {
    (StatusCode::OK, [(header::CONTENT_TYPE, "text/calendar; charset=utf-8"), (header::CACHE_CONTROL, "private, max-age=300")], body)
        .into_response()
}

pub async fn appointment(State(state): State<AppState>, Path(file): Path<String>, Query(q): Query<LangQuery>) -> Response {
    let Some(token) = token(&file) else { return not_found() };
    let appointment = match state.store.appointment_by_calendar_token(token).await {
        Ok(Some(a)) => a,
        Ok(None) => return not_found(),
        Err(e) => return failure(e),
    };
    let catalog = match state.store.catalog(appointment.clinic_id).await {
        Ok(c) => c,
        Err(e) => return failure(e),
    };
    let lang = q.lang.as_deref().and_then(Lang::parse).unwrap_or(catalog.clinic.default_language);
    calendar(ics::appointment_file(&catalog, &appointment, lang, state.clock.now()))
}

pub async fn practitioner(State(state): State<AppState>, Path(file): Path<String>) -> Response {
    let Some(token) = token(&file) else { return not_found() };
    let (clinic, practitioner) = match state.store.practitioner_by_calendar_token(token).await {
        Ok(Some(found)) => found,
        Ok(None) => return not_found(),
        Err(e) => return failure(e),
    };
    let now = state.clock.now();
    let (catalog, appointments) = match tokio::try_join!(
        state.store.catalog(clinic),
        state.store.practitioner_appointments(practitioner, now - Duration::days(30))
    ) {
        Ok(found) => found,
        Err(e) => return failure(e),
    };
    let Some(p) = catalog.practitioner(practitioner) else { return not_found() };
    calendar(ics::practitioner_feed(&catalog, p, &appointments, now))
}
