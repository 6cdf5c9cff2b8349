//! `GET /oauth/google/callback`: where Google sends the doctor back after
//! consent. The page says, in French and English, whether the calendar is
//! connected; it never shows a token or an internal error.

use crate::app_state::AppState;
use crate::calendar::google::ConnectError;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use tracing::warn;

#[derive(Debug, serde::Deserialize)]
pub struct CallbackQuery {
    state: Option<String>,
    code: Option<String>,
    error: Option<String>,
}

fn page(status: StatusCode, fr: &str, en: &str) -> Response {
    let body = format!(
        "<!doctype html><html lang=\"fr\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\">\
         <title>Nuru — Google Agenda</title></head><body><main><p>{fr}</p><p lang=\"en\">{en}</p></main></body></html>"
    );
    (
        status,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
            (header::CONTENT_SECURITY_POLICY, "default-src 'none'"),
            (header::REFERRER_POLICY, "no-referrer"),
        ],
        body,
    )
        .into_response()
}

pub async fn callback(State(state): State<AppState>, Query(q): Query<CallbackQuery>) -> Response {
    let google = state.google.clone();
    let Some(st) = q.state.filter(|s| !s.is_empty() && s.len() <= 200) else {
        return page(StatusCode::BAD_REQUEST, "Lien incomplet.", "Incomplete link.");
    };
    if let Some(e) = q.error {
        // The doctor declined: the state is spent so the link cannot be reused.
        let _ = state.store.take_oauth_state(&super::oauth::state_hash(&st), state.clock.now()).await;
        warn!(error = %e.chars().take(60).collect::<String>(), "Google consent not given");
        return page(
            StatusCode::OK,
            "La connexion à Google Agenda a été annulée. Rien n'a été connecté.",
            "Connecting Google Calendar was cancelled. Nothing was connected.",
        );
    }
    let Some(code) = q.code.filter(|c| !c.is_empty() && c.len() <= 2048) else {
        return page(StatusCode::BAD_REQUEST, "Lien incomplet.", "Incomplete link.");
    };
    match google.finish_connection(&st, &code).await {
        Ok(_) => page(
            StatusCode::OK,
            "Google Agenda est connecté. Vous pouvez fermer cette page ; la clinique choisit les agendas utilisés.",
            "Google Calendar is connected. You can close this page; the clinic chooses which calendars are used.",
        ),
        Err(ConnectError::UnknownState) => page(
            StatusCode::BAD_REQUEST,
            "Ce lien a déjà servi ou a expiré. Demandez un nouveau lien à la clinique.",
            "This link was already used or has expired. Ask the clinic for a new link.",
        ),
        Err(ConnectError::Denied(m)) => {
            warn!(reason = %m, "Google connection refused");
            page(
                StatusCode::BAD_REQUEST,
                "Google n'a pas donné les accès nécessaires. Recommencez en acceptant l'accès à l'agenda.",
                "Google did not grant the access needed. Try again and allow access to the calendar.",
            )
        }
        Err(ConnectError::NoRefreshToken) => page(
            StatusCode::BAD_REQUEST,
            "Google n'a pas donné d'accès durable. Recommencez depuis un nouveau lien.",
            "Google gave no lasting access. Start again from a new link.",
        ),
        Err(ConnectError::Google(e)) => {
            warn!(error = %e, "Google connection failed");
            page(
                StatusCode::SERVICE_UNAVAILABLE,
                "Google ne répond pas pour le moment. Réessayez dans quelques minutes avec un nouveau lien.",
                "Google is not answering right now. Try again in a few minutes with a new link.",
            )
        }
    }
}
