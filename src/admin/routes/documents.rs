//! Documents: the clinic's (answers for anyone who writes) and each
//! patient's file. Upload as `multipart/form-data` with one `file` field
//! (PDF, Markdown, plain text, or a photo stored for OCR; ≤ 10 MiB); list with status, read the
//! metadata or the original, replace, delete, re-index. Every read or change
//! of a patient's document is audited.

use super::{audit, audit_event};
use crate::admin::auth::{ClinicAccess, roles};
use crate::admin::error::{ApiError, ApiMultipart, ApiPath, ApiResult, Refusals};
use crate::app_state::AppState;
use crate::documents::IngestError;
use crate::domain::*;
use crate::retrieval::{AddError, NewFile, add_document};
use crate::storage::DocumentRecord;
use axum::Json;
use axum::extract::{Multipart, State};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

#[derive(Debug, Serialize, ToSchema)]
pub struct DocumentView {
    pub id: String,
    /// Present for a document of a patient's file.
    pub patient_id: Option<String>,
    pub title: String,
    pub file_name: String,
    /// pdf, markdown, text, jpeg or png.
    pub format: String,
    /// fr or en, when it could be told.
    pub language: Option<String>,
    pub byte_size: i64,
    pub sha256: String,
    /// `indexed` (searchable), or `needs_ocr`: a PDF with no text layer (a
    /// scan), stored but not searchable until read by OCR.
    pub status: String,
    pub pages: i64,
    pub passages: i64,
    /// admin, cli, whatsapp or sms.
    pub source: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DocumentList {
    pub items: Vec<DocumentView>,
}

/// The upload form: one file.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct UploadForm {
    #[schema(format = Binary, content_media_type = "application/octet-stream")]
    pub file: String,
}

fn view(r: &DocumentRecord) -> DocumentView {
    DocumentView {
        id: r.id.to_string(),
        patient_id: r.patient.map(|p| p.to_string()),
        title: r.title.clone(),
        file_name: r.file_name.clone(),
        format: r.format.clone(),
        language: r.language.map(|l| l.as_str().to_string()),
        byte_size: r.byte_size,
        sha256: r.sha256.clone(),
        status: r.status.clone(),
        pages: r.pages,
        passages: r.passages,
        source: r.source.clone(),
        created_at: r.created_at,
        updated_at: r.updated_at,
    }
}

/// Reads the one `file` field of the form.
async fn read_file(mut form: Multipart) -> ApiResult<(String, Option<String>, Vec<u8>)> {
    let too_large = || ApiError::too_large(format!("a document may be at most {} bytes (10 MiB)", crate::documents::MAX_DOCUMENT_BYTES));
    while let Some(field) = form.next_field().await.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            too_large()
        } else {
            ApiError::invalid("file", format!("unreadable form: {}", e.body_text()))
        }
    })? {
        if field.name() != Some("file") {
            continue;
        }
        let name = field
            .file_name()
            .map(str::to_string)
            .filter(|n| !n.trim().is_empty())
            .ok_or_else(|| ApiError::invalid("file", "the file part needs a file name"))?;
        if name.chars().count() > 200 {
            return Err(ApiError::invalid("file", "the file name is longer than 200 characters"));
        }
        let content_type = field.content_type().map(str::to_string);
        let bytes = field.bytes().await.map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE { too_large() } else { ApiError::invalid("file", e.body_text()) }
        })?;
        return Ok((name, content_type, bytes.to_vec()));
    }
    Err(ApiError::invalid("file", "send the document as multipart/form-data with a `file` field"))
}

fn refused(e: AddError) -> ApiError {
    match e {
        AddError::Refused(IngestError::TooLarge(_) | IngestError::Unreadable(crate::documents::ExtractError::TooMuch(_))) => {
            ApiError::too_large(e.to_string())
        }
        AddError::Refused(IngestError::Unsupported(_)) => ApiError::unsupported(e.to_string()),
        AddError::Refused(other) => ApiError::invalid("file", other.to_string()),
        AddError::Storage(s) => s.into(),
    }
}

async fn patient_of(state: &AppState, clinic: ClinicId, patient: Uuid) -> ApiResult<PatientId> {
    state
        .store
        .patient(clinic, PatientId(patient))
        .await?
        .filter(|r| !r.erased)
        .map(|r| r.patient.id)
        .ok_or_else(|| ApiError::not_found("patient"))
}

/// A document of this clinic with this owner (the clinic's, or this patient's).
async fn owned(state: &AppState, clinic: ClinicId, owner: Option<PatientId>, id: Uuid) -> ApiResult<(DocumentRecord, Vec<u8>)> {
    state.store.document(clinic, DocumentId(id)).await?.filter(|(r, _)| r.patient == owner).ok_or_else(|| ApiError::not_found("document"))
}

async fn upload<R: crate::admin::auth::MinRole>(
    state: &AppState,
    access: &ClinicAccess<R>,
    owner: Option<PatientId>,
    form: Multipart,
    replace: Option<DocumentId>,
) -> ApiResult<DocumentView> {
    let (name, content_type, bytes) = read_file(form).await?;
    let file = NewFile {
        clinic: access.clinic,
        patient: owner,
        file_name: &name,
        content_type: content_type.as_deref(),
        bytes: &bytes,
        source: "admin",
        actor: Some(access.caller.user_id),
    };
    let (id, _) = add_document(&state.store, &state.library, &file, replace, state.clock.now()).await.map_err(refused)?;
    let (record, _) = state.store.document(access.clinic, id).await?.ok_or_else(|| ApiError::not_found("document"))?;
    Ok(view(&record))
}

/// Adds a document of the clinic (price lists, preparation sheets…): patients get answers from it.
#[utoipa::path(post, path = "/api/clinics/{clinic_id}/documents", tag = "documents", security(("bearer" = [])),
    params(("clinic_id" = Uuid, Path)), request_body(content = UploadForm, content_type = "multipart/form-data"),
    responses((status = 201, body = DocumentView), (status = 413, body = crate::admin::error::ErrorBody, description = "larger than 10 MiB"), (status = 415, body = crate::admin::error::ErrorBody, description = "not a PDF, Markdown, text file or photo"), Refusals))]
pub async fn upload_clinic_document(
    State(state): State<AppState>,
    access: ClinicAccess<roles::Admin>,
    ApiMultipart(form): ApiMultipart,
) -> ApiResult<(StatusCode, Json<DocumentView>)> {
    Ok((StatusCode::CREATED, Json(upload(&state, &access, None, form, None).await?)))
}

#[utoipa::path(get, path = "/api/clinics/{clinic_id}/documents", tag = "documents", security(("bearer" = [])),
    params(("clinic_id" = Uuid, Path)), responses((status = 200, body = DocumentList), Refusals))]
pub async fn list_clinic_documents(State(state): State<AppState>, access: ClinicAccess<roles::Staff>) -> ApiResult<Json<DocumentList>> {
    let items = state.store.documents(access.clinic, None).await?.iter().map(view).collect();
    Ok(Json(DocumentList { items }))
}

#[utoipa::path(get, path = "/api/clinics/{clinic_id}/documents/{document_id}", tag = "documents", security(("bearer" = [])),
    params(("clinic_id" = Uuid, Path), ("document_id" = Uuid, Path)), responses((status = 200, body = DocumentView), Refusals))]
pub async fn get_clinic_document(
    State(state): State<AppState>,
    access: ClinicAccess<roles::Staff>,
    ApiPath((_clinic, id)): ApiPath<(Uuid, Uuid)>,
) -> ApiResult<Json<DocumentView>> {
    Ok(Json(view(&owned(&state, access.clinic, None, id).await?.0)))
}

/// The original file, as uploaded.
#[utoipa::path(get, path = "/api/clinics/{clinic_id}/documents/{document_id}/content", tag = "documents", security(("bearer" = [])),
    params(("clinic_id" = Uuid, Path), ("document_id" = Uuid, Path)), responses((status = 200, description = "the file as uploaded", content((Vec<u8> = "application/pdf"), (String = "text/markdown"), (String = "text/plain"), (Vec<u8> = "image/jpeg"), (Vec<u8> = "image/png"))), Refusals))]
pub async fn clinic_document_content(
    State(state): State<AppState>,
    access: ClinicAccess<roles::Staff>,
    ApiPath((_clinic, id)): ApiPath<(Uuid, Uuid)>,
) -> ApiResult<impl IntoResponse> {
    let (record, bytes) = owned(&state, access.clinic, None, id).await?;
    Ok(content(&record, bytes))
}

fn content(record: &DocumentRecord, bytes: Vec<u8>) -> impl IntoResponse + use<> {
    let format = crate::documents::Format::parse(&record.format).unwrap_or(crate::documents::Format::Text);
    // Only printable ASCII in the header's quoted name (the original name,
    // accents included, is in the document's metadata).
    // The last part of the name only: no folder, no `..`, no hidden file.
    let base = record.file_name.rsplit(['/', '\\']).next().unwrap_or_default().trim_start_matches('.');
    let ascii: String = base.chars().map(|c| if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' { c } else { '_' }).collect();
    let ascii = if ascii.trim().is_empty() { "document".to_string() } else { ascii };
    let disposition = format!("attachment; filename=\"{ascii}\"");
    (
        [
            (header::CONTENT_TYPE, format.content_type().to_string()),
            (header::CONTENT_DISPOSITION, disposition),
            // The browser takes the declared type, never guesses one.
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_string()),
        ],
        bytes,
    )
}

/// New contents for a document (same id); its passages are cut again.
#[utoipa::path(put, path = "/api/clinics/{clinic_id}/documents/{document_id}", tag = "documents", security(("bearer" = [])),
    params(("clinic_id" = Uuid, Path), ("document_id" = Uuid, Path)), request_body(content = UploadForm, content_type = "multipart/form-data"),
    responses((status = 200, body = DocumentView), (status = 413, body = crate::admin::error::ErrorBody, description = "larger than 10 MiB"), (status = 415, body = crate::admin::error::ErrorBody, description = "not a PDF, Markdown, text file or photo"), Refusals))]
pub async fn replace_clinic_document(
    State(state): State<AppState>,
    access: ClinicAccess<roles::Admin>,
    ApiPath((_clinic, id)): ApiPath<(Uuid, Uuid)>,
    ApiMultipart(form): ApiMultipart,
) -> ApiResult<Json<DocumentView>> {
    owned(&state, access.clinic, None, id).await?;
    Ok(Json(upload(&state, &access, None, form, Some(DocumentId(id))).await?))
}

/// Extracts and cuts the stored file again (after an upgrade of Nuru's extraction).
#[utoipa::path(post, path = "/api/clinics/{clinic_id}/documents/{document_id}/reindex", tag = "documents", security(("bearer" = [])),
    params(("clinic_id" = Uuid, Path), ("document_id" = Uuid, Path)), responses((status = 200, body = DocumentView), Refusals))]
pub async fn reindex_clinic_document(
    State(state): State<AppState>,
    access: ClinicAccess<roles::Admin>,
    ApiPath((_clinic, id)): ApiPath<(Uuid, Uuid)>,
) -> ApiResult<Json<DocumentView>> {
    Ok(Json(reindex(&state, &access, None, id).await?))
}

async fn reindex<R: crate::admin::auth::MinRole>(
    state: &AppState,
    access: &ClinicAccess<R>,
    owner: Option<PatientId>,
    id: Uuid,
) -> ApiResult<DocumentView> {
    let (record, bytes) = owned(state, access.clinic, owner, id).await?;
    let format = crate::documents::Format::parse(&record.format).unwrap_or(crate::documents::Format::Text);
    let file = NewFile {
        clinic: access.clinic,
        patient: owner,
        file_name: &record.file_name,
        content_type: Some(format.content_type()),
        bytes: &bytes,
        source: &record.source,
        actor: Some(access.caller.user_id),
    };
    add_document(&state.store, &state.library, &file, Some(record.id), state.clock.now()).await.map_err(refused)?;
    let (record, _) = owned(state, access.clinic, owner, id).await?;
    Ok(view(&record))
}

#[utoipa::path(delete, path = "/api/clinics/{clinic_id}/documents/{document_id}", tag = "documents", security(("bearer" = [])),
    params(("clinic_id" = Uuid, Path), ("document_id" = Uuid, Path)), responses((status = 204), (status = 503, body = crate::admin::error::ErrorBody, description = "the vector store (Qdrant) did not answer; nothing was changed"), Refusals))]
pub async fn delete_clinic_document(
    State(state): State<AppState>,
    access: ClinicAccess<roles::Admin>,
    ApiPath((_clinic, id)): ApiPath<(Uuid, Uuid)>,
) -> ApiResult<StatusCode> {
    owned(&state, access.clinic, None, id).await?;
    delete(&state, &access, id, "document").await
}

/// Adds a document to a patient's file (a lab result, a discharge letter).
#[utoipa::path(post, path = "/api/clinics/{clinic_id}/patients/{patient_id}/documents", tag = "documents", security(("bearer" = [])),
    params(("clinic_id" = Uuid, Path), ("patient_id" = Uuid, Path)), request_body(content = UploadForm, content_type = "multipart/form-data"),
    responses((status = 201, body = DocumentView), (status = 413, body = crate::admin::error::ErrorBody, description = "larger than 10 MiB"), (status = 415, body = crate::admin::error::ErrorBody, description = "not a PDF, Markdown, text file or photo"), Refusals))]
pub async fn upload_patient_document(
    State(state): State<AppState>,
    access: ClinicAccess<roles::Staff>,
    ApiPath((_clinic, patient)): ApiPath<(Uuid, Uuid)>,
    ApiMultipart(form): ApiMultipart,
) -> ApiResult<(StatusCode, Json<DocumentView>)> {
    let owner = patient_of(&state, access.clinic, patient).await?;
    Ok((StatusCode::CREATED, Json(upload(&state, &access, Some(owner), form, None).await?)))
}

#[utoipa::path(get, path = "/api/clinics/{clinic_id}/patients/{patient_id}/documents", tag = "documents", security(("bearer" = [])),
    params(("clinic_id" = Uuid, Path), ("patient_id" = Uuid, Path)), responses((status = 200, body = DocumentList), Refusals))]
pub async fn list_patient_documents(
    State(state): State<AppState>,
    access: ClinicAccess<roles::Staff>,
    ApiPath((_clinic, patient)): ApiPath<(Uuid, Uuid)>,
) -> ApiResult<Json<DocumentList>> {
    let owner = patient_of(&state, access.clinic, patient).await?;
    let items = state.store.documents(access.clinic, Some(owner)).await?.iter().map(view).collect();
    audit(&state, &access.caller, Some(access.clinic), "list", "patient_documents", Some(&patient.to_string())).await?;
    Ok(Json(DocumentList { items }))
}

/// A document of the patient's file: its metadata, or with `/content` the file.
#[utoipa::path(get, path = "/api/clinics/{clinic_id}/patients/{patient_id}/documents/{document_id}/content", tag = "documents", security(("bearer" = [])),
    params(("clinic_id" = Uuid, Path), ("patient_id" = Uuid, Path), ("document_id" = Uuid, Path)),
    responses((status = 200, description = "the file as uploaded", content((Vec<u8> = "application/pdf"), (String = "text/markdown"), (String = "text/plain"), (Vec<u8> = "image/jpeg"), (Vec<u8> = "image/png"))), Refusals))]
pub async fn patient_document_content(
    State(state): State<AppState>,
    access: ClinicAccess<roles::Staff>,
    ApiPath((_clinic, patient, id)): ApiPath<(Uuid, Uuid, Uuid)>,
) -> ApiResult<impl IntoResponse> {
    let owner = patient_of(&state, access.clinic, patient).await?;
    let (record, bytes) = owned(&state, access.clinic, Some(owner), id).await?;
    audit(&state, &access.caller, Some(access.clinic), "read", "patient_document", Some(&id.to_string())).await?;
    Ok(content(&record, bytes))
}

#[utoipa::path(delete, path = "/api/clinics/{clinic_id}/patients/{patient_id}/documents/{document_id}", tag = "documents", security(("bearer" = [])),
    params(("clinic_id" = Uuid, Path), ("patient_id" = Uuid, Path), ("document_id" = Uuid, Path)), responses((status = 204), (status = 503, body = crate::admin::error::ErrorBody, description = "the vector store (Qdrant) did not answer; nothing was changed"), Refusals))]
pub async fn delete_patient_document(
    State(state): State<AppState>,
    access: ClinicAccess<roles::Staff>,
    ApiPath((_clinic, patient, id)): ApiPath<(Uuid, Uuid, Uuid)>,
) -> ApiResult<StatusCode> {
    let owner = patient_of(&state, access.clinic, patient).await?;
    owned(&state, access.clinic, Some(owner), id).await?;
    delete(&state, &access, id, "patient_document").await
}

/// Deletes a document the caller's clinic owns (checked by the caller): its
/// vectors first — if Qdrant does not answer, nothing is deleted and the
/// call can be repeated — then the document, its passages and the audit row.
async fn delete<R: crate::admin::auth::MinRole>(
    state: &AppState,
    access: &ClinicAccess<R>,
    id: Uuid,
    resource: &str,
) -> ApiResult<StatusCode> {
    let id_text = id.to_string();
    let event = audit_event(&access.caller, access.clinic, "delete", resource, Some(&id_text));
    state.library.forget_document(access.clinic, DocumentId(id)).await.map_err(|e| {
        tracing::error!(error = %e, "document vectors not removed from Qdrant");
        ApiError::unavailable("the vector store did not answer; nothing was deleted, try again")
    })?;
    state.store.delete_document(access.clinic, DocumentId(id), &event, state.clock.now()).await?;
    Ok(StatusCode::NO_CONTENT)
}
