//! The staff console at `/console`: a small page and script embedded in the
//! binary, working through the admin API with the user's role. Its session
//! lives in HttpOnly, SameSite=Strict cookies (no token is readable by
//! script); every change made through the cookie repeats the session's
//! anti-CSRF token in a header and comes from the console's own origin.
//! See `docs/console.md` for why it is plain HTML, CSS and JavaScript.

mod assets;
mod session;

use crate::app_state::AppState;
use axum::Router;
use axum::routing::{get, post};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/console", get(assets::index))
        .route("/console/", get(assets::index))
        .route("/console/assets/{name}", get(assets::asset))
        .route("/console/session", post(session::login))
        .route("/console/session/refresh", post(session::refresh))
        .route("/console/session/logout", post(session::logout))
}
