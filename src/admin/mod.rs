//! The admin API (`/api`): accounts and tokens, clinics and their settings,
//! practitioners, services, windows, patients, conversations, appointments,
//! slots, statistics and the audit trail, documented by an OpenAPI 3.1
//! document generated from the handlers (`/api/openapi.json`, `/api/docs`).

pub mod auth;
pub mod cookies;
pub mod error;
pub mod etag;
pub mod routes;
pub mod schema;
pub mod throttle;
pub mod tokens;
pub mod views;

use crate::app_state::AppState;
use axum::Router;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

#[derive(OpenApi)]
#[openapi(
    info(title = "Nuru admin API", description = "Clinic admins configure and follow their clinic; superadmins review across clinics."),
    modifiers(&BearerAuth),
    tags((name = "auth"), (name = "clinics"), (name = "patients"), (name = "conversations"), (name = "appointments"), (name = "scheduling"), (name = "audit"), (name = "documents"), (name = "calendar"), (name = "outreach"))
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("JWT").build()),
        );
    }
}

/// The routes and their OpenAPI document, built together.
pub fn router() -> (Router<AppState>, utoipa::openapi::OpenApi) {
    let (router, api) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(routes::login))
        .routes(routes!(routes::refresh))
        .routes(routes!(routes::logout))
        .routes(routes!(routes::me))
        .routes(routes!(routes::list_clinics, routes::create_clinic))
        .routes(routes!(routes::get_clinic, routes::update_clinic))
        .routes(routes!(routes::set_twilio))
        .routes(routes!(routes::clinic_stats))
        .routes(routes!(routes::model_metrics))
        .routes(routes!(routes::list_practitioners, routes::create_practitioner))
        .routes(routes!(routes::update_practitioner, routes::archive_practitioner))
        .routes(routes!(routes::list_services, routes::create_service))
        .routes(routes!(routes::update_service, routes::archive_service))
        .routes(routes!(routes::list_windows, routes::create_window))
        .routes(routes!(routes::delete_window))
        .routes(routes!(routes::list_patients, routes::create_patient))
        .routes(routes!(routes::get_patient, routes::update_patient, routes::erase_patient))
        .routes(routes!(routes::add_phone))
        .routes(routes!(routes::remove_phone))
        .routes(routes!(routes::list_conversations))
        .routes(routes!(routes::get_conversation))
        .routes(routes!(routes::conversation_messages))
        .routes(routes!(routes::release_conversation))
        .routes(routes!(routes::list_appointments, routes::create_appointment))
        .routes(routes!(routes::move_appointment))
        .routes(routes!(routes::set_appointment_status))
        .routes(routes!(routes::take_over_conversation))
        .routes(routes!(routes::reply_to_conversation))
        .routes(routes!(routes::cancel_appointment))
        .routes(routes!(routes::slots))
        .routes(routes!(routes::list_exceptions, routes::create_exception))
        .routes(routes!(routes::delete_exception))
        .routes(routes!(routes::list_holidays, routes::set_holidays))
        .routes(routes!(routes::audit_events))
        .routes(routes!(routes::system_events))
        .routes(routes!(routes::delivery_failures))
        .routes(routes!(routes::connect_google))
        .routes(routes!(routes::get_google, routes::disconnect_google))
        .routes(routes!(routes::choose_google_calendars))
        .routes(routes!(routes::sync_google))
        .routes(routes!(routes::calendar_conflicts))
        .routes(routes!(routes::set_google_service_account))
        .routes(routes!(routes::connect_google_service_account))
        .routes(routes!(routes::get_reminder_settings, routes::set_reminder_settings))
        .routes(routes!(routes::list_templates))
        .routes(routes!(routes::set_template, routes::delete_template))
        .routes(routes!(routes::list_reminders))
        .routes(routes!(routes::reminder_stats))
        .routes(routes!(routes::get_consents))
        .routes(routes!(routes::set_consent))
        .routes(routes!(routes::get_feedback_settings, routes::set_feedback_settings))
        .routes(routes!(routes::feedback_stats))
        .routes(routes!(routes::list_broadcasts, routes::create_broadcast))
        .routes(routes!(routes::get_broadcast))
        .routes(routes!(routes::broadcast_recipients))
        .routes(routes!(routes::pause_broadcast))
        .routes(routes!(routes::resume_broadcast))
        .routes(routes!(routes::cancel_broadcast))
        .merge(
            // Uploads are larger than the 2 MB every other body is held to.
            OpenApiRouter::new()
                .routes(routes!(routes::list_clinic_documents, routes::upload_clinic_document))
                .routes(routes!(routes::get_clinic_document, routes::replace_clinic_document, routes::delete_clinic_document))
                .routes(routes!(routes::clinic_document_content))
                .routes(routes!(routes::reindex_clinic_document))
                .routes(routes!(routes::list_patient_documents, routes::upload_patient_document))
                .routes(routes!(routes::delete_patient_document))
                .routes(routes!(routes::patient_document_content))
                .layer(axum::extract::DefaultBodyLimit::max(crate::documents::MAX_DOCUMENT_BYTES + 64 * 1024)),
        )
        .split_for_parts();
    (router.layer(axum::middleware::from_fn(etag::conditional)), api)
}

pub fn openapi() -> utoipa::openapi::OpenApi {
    router().1
}
