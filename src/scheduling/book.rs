//! Booking, moving and cancelling: the I/O shell around the slot engine. Each
//! function runs inside the caller's transaction: it takes the practitioner's
//! lock first, re-reads the time taken, asks the engine ([`SlotEngine::check`],
//! the same rules the search used) and only then writes. No decision comes
//! from a read made before the lock, so concurrent requests cannot
//! double-book or exceed a window's capacity on either backend.

use super::engine::{SlotEngine, SlotQuery, Unavailable};
use crate::domain::*;
use crate::storage::Tx;
use crate::storage::{Activity, NewAppointment, StorageError, Store};
use chrono::{DateTime, Duration, Utc};

#[derive(Debug, thiserror::Error)]
pub enum BookingError {
    #[error("this time cannot be booked: {0}")]
    Unavailable(Unavailable),
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

#[derive(Debug, Clone)]
pub struct BookRequest {
    pub practitioner: PractitionerId,
    pub service: ServiceId,
    pub mode: ConsultationMode,
    pub patient: PatientId,
    pub start: DateTime<Utc>,
    pub source: &'static str,
    pub conversation: Option<ConversationId>,
}

#[derive(Debug, Clone)]
pub struct MoveRequest {
    pub appointment: AppointmentId,
    /// `None` keeps the practitioner.
    pub practitioner: Option<PractitionerId>,
    pub start: DateTime<Utc>,
    /// `bot` or `staff`, for the statistics.
    pub source: &'static str,
}

/// Occupancy read around `start`: the local day (daily limit) and every
/// buffer that could reach it lie well within two days on each side.
const AROUND: i64 = 2;

async fn checked(
    conn: &mut Tx,
    catalog: &ClinicCatalog,
    query: &SlotQuery,
    practitioner: PractitionerId,
    start: DateTime<Utc>,
    now: DateTime<Utc>,
    ignore: Option<AppointmentId>,
) -> Result<(DateTime<Utc>, DateTime<Utc>, DateTime<Utc>, DateTime<Utc>), BookingError> {
    let clinic = catalog.clinic.id;
    let occupancy =
        Store::practitioner_occupancy(conn, clinic, practitioner, start - Duration::days(AROUND), start + Duration::days(AROUND)).await?;
    let engine = SlotEngine::new(catalog, &occupancy, now, ignore);
    let slot = engine.check(query, practitioner, start).map_err(BookingError::Unavailable)?;
    let service = catalog.service(query.service).ok_or(BookingError::Unavailable(Unavailable::UnknownService))?;
    let blocked_from = slot.start - Duration::minutes(service.buffer_before_minutes as i64);
    let blocked_until = slot.end + Duration::minutes(service.buffer_after_minutes as i64);
    Ok((slot.start, slot.end, blocked_from, blocked_until))
}

fn query_for(
    service: ServiceId,
    mode: ConsultationMode,
    practitioner: PractitionerId,
    start: DateTime<Utc>,
    catalog: &ClinicCatalog,
) -> SlotQuery {
    let day = start.with_timezone(&catalog.clinic.timezone).date_naive();
    SlotQuery { service, mode, practitioners: vec![practitioner], from: day, to: day }
}

/// Books `req` if the engine, under the practitioner's lock, says the time is
/// free. Call inside a transaction and commit after.
pub async fn book(conn: &mut Tx, catalog: &ClinicCatalog, req: &BookRequest, now: DateTime<Utc>) -> Result<AppointmentId, BookingError> {
    let clinic = catalog.clinic.id;
    Store::lock_practitioner(conn, clinic, req.practitioner).await.map_err(not_found)?;
    let query = query_for(req.service, req.mode, req.practitioner, req.start, catalog);
    let (starts_at, ends_at, blocked_from, blocked_until) = checked(conn, catalog, &query, req.practitioner, req.start, now, None).await?;
    let new = NewAppointment {
        clinic_id: clinic,
        practitioner_id: req.practitioner,
        patient_id: req.patient,
        service_id: req.service,
        mode: req.mode,
        starts_at,
        ends_at,
        blocked_from,
        blocked_until,
        source: req.source,
        conversation_id: req.conversation,
    };
    Ok(Store::insert_appointment(conn, &new, now).await?)
}

/// Moves a booked appointment to a new time (and maybe practitioner). The old
/// time stays taken unless the new one is: a refused move changes nothing.
pub async fn reschedule(
    conn: &mut Tx,
    catalog: &ClinicCatalog,
    req: &MoveRequest,
    now: DateTime<Utc>,
) -> Result<Appointment, BookingError> {
    let clinic = catalog.clinic.id;
    let before = Store::appointment_in(conn, clinic, req.appointment).await?.ok_or(BookingError::NotFound("appointment"))?;
    let target = req.practitioner.unwrap_or(before.practitioner_id);
    // Both locks, in a fixed order so two crossing moves cannot deadlock.
    let mut locks = vec![before.practitioner_id, target];
    locks.sort();
    locks.dedup();
    for p in locks {
        Store::lock_practitioner(conn, clinic, p).await.map_err(not_found)?;
    }
    // Read again under the locks: it may have been moved or cancelled meanwhile.
    let current = Store::appointment_in(conn, clinic, req.appointment).await?.ok_or(BookingError::NotFound("appointment"))?;
    if current.status != AppointmentStatus::Booked {
        return Err(BookingError::NotFound("booked appointment"));
    }
    let query = query_for(current.service_id, current.mode, target, req.start, catalog);
    let (starts_at, ends_at, blocked_from, blocked_until) =
        checked(conn, catalog, &query, target, req.start, now, Some(current.id)).await?;
    let new = NewAppointment {
        clinic_id: clinic,
        practitioner_id: target,
        patient_id: current.patient_id,
        service_id: current.service_id,
        mode: current.mode,
        starts_at,
        ends_at,
        blocked_from,
        blocked_until,
        source: req.source,
        conversation_id: None,
    };
    if !Store::move_appointment(conn, current.id, &new, now).await? {
        return Err(BookingError::NotFound("booked appointment"));
    }
    Store::record_activity(conn, clinic, Activity::Moved, req.source, now).await?;
    Ok(Appointment { practitioner_id: target, starts_at, ends_at, ..current })
}

/// Cancels a booked appointment of this clinic; its time is bookable again at
/// once. False when there was nothing booked to cancel. `source`: `bot` or `staff`.
pub async fn cancel(
    conn: &mut Tx,
    clinic: ClinicId,
    appointment: AppointmentId,
    source: &'static str,
    now: DateTime<Utc>,
) -> Result<bool, BookingError> {
    let done = Store::cancel_appointment(conn, clinic, appointment, now).await?;
    if done {
        Store::record_activity(conn, clinic, Activity::Cancelled, source, now).await?;
    }
    Ok(done)
}

fn not_found(e: StorageError) -> BookingError {
    match e {
        StorageError::NotFound(what) => BookingError::NotFound(what),
        other => BookingError::Storage(other),
    }
}
