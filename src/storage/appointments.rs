//! Appointments. The no-double-booking guarantee lives here: every booking of
//! a practitioner first writes that practitioner's row (`booking_seq`), which
//! takes a row lock on PostgreSQL and the write lock on SQLite. Bookings of one
//! practitioner are therefore serialised by the database itself, and the
//! overlap count that follows sees every committed booking. Nothing is decided
//! from a read made before the lock.

use super::{Result, StorageError, Store, from_ts, parse_id, to_ts};
use crate::domain::*;
use chrono::{DateTime, Utc};
use sqlx::AnyConnection;
use sqlx::Row;
use sqlx::any::AnyRow;

#[derive(Debug, Clone)]
pub struct NewAppointment {
    pub clinic_id: ClinicId,
    pub practitioner_id: PractitionerId,
    pub patient_id: PatientId,
    pub service_id: ServiceId,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    /// Patients the window accepts at once; the booking fails beyond it.
    pub capacity: u32,
    pub source: &'static str,
    pub conversation_id: Option<ConversationId>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BookOutcome {
    Booked(AppointmentId),
    SlotTaken,
}

#[derive(Debug, Clone)]
pub struct UpcomingAppointment {
    pub appointment: Appointment,
    pub patient_first_name: String,
    pub patient_last_name: String,
}

const COLUMNS: &str = "a.id, a.clinic_id, a.practitioner_id, a.patient_id, a.service_id, a.starts_at, a.ends_at, a.status";

fn appointment_from_row(row: &AnyRow) -> Result<Appointment> {
    let status: String = row.try_get("status")?;
    Ok(Appointment {
        id: parse_id(&row.try_get::<String, _>("id")?, AppointmentId::parse)?,
        clinic_id: parse_id(&row.try_get::<String, _>("clinic_id")?, ClinicId::parse)?,
        practitioner_id: parse_id(&row.try_get::<String, _>("practitioner_id")?, PractitionerId::parse)?,
        patient_id: parse_id(&row.try_get::<String, _>("patient_id")?, PatientId::parse)?,
        service_id: parse_id(&row.try_get::<String, _>("service_id")?, ServiceId::parse)?,
        starts_at: from_ts(row.try_get("starts_at")?)?,
        ends_at: from_ts(row.try_get("ends_at")?)?,
        status: AppointmentStatus::parse(&status).ok_or_else(|| StorageError::Corrupt(format!("bad status {status}")))?,
    })
}

impl Store {
    /// Busy time of every practitioner of the clinic overlapping `[from, to)`:
    /// one query for the whole search, whatever the number of days or practitioners.
    pub async fn busy_intervals(&self, clinic: ClinicId, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<Vec<BusyInterval>> {
        sqlx::query(
            "SELECT practitioner_id, starts_at, ends_at FROM appointments \
             WHERE clinic_id = $1 AND status = 'booked' AND starts_at < $3 AND ends_at > $2 ORDER BY starts_at",
        )
        .bind(clinic.to_string())
        .bind(to_ts(from))
        .bind(to_ts(to))
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|row| {
            Ok(BusyInterval {
                practitioner_id: parse_id(&row.try_get::<String, _>("practitioner_id")?, PractitionerId::parse)?,
                start: from_ts(row.try_get("starts_at")?)?,
                end: from_ts(row.try_get("ends_at")?)?,
            })
        })
        .collect()
    }

    /// Inside a transaction: books if fewer than `capacity` booked appointments
    /// of this practitioner overlap the time. See the module doc for why this
    /// cannot double-book under concurrency.
    pub async fn book(conn: &mut AnyConnection, a: &NewAppointment, now: DateTime<Utc>) -> Result<BookOutcome> {
        let locked = sqlx::query("UPDATE practitioners SET booking_seq = booking_seq + 1 WHERE id = $1 AND clinic_id = $2")
            .bind(a.practitioner_id.to_string())
            .bind(a.clinic_id.to_string())
            .execute(&mut *conn)
            .await?;
        if locked.rows_affected() != 1 {
            return Err(StorageError::NotFound("practitioner"));
        }
        let overlapping: i64 = sqlx::query(
            "SELECT COUNT(*) AS n FROM appointments WHERE practitioner_id = $1 AND status = 'booked' \
             AND starts_at < $3 AND ends_at > $2",
        )
        .bind(a.practitioner_id.to_string())
        .bind(to_ts(a.starts_at))
        .bind(to_ts(a.ends_at))
        .fetch_one(&mut *conn)
        .await?
        .try_get("n")?;
        if overlapping >= a.capacity.max(1) as i64 {
            return Ok(BookOutcome::SlotTaken);
        }
        let id = AppointmentId::random();
        sqlx::query(
            "INSERT INTO appointments (id, clinic_id, practitioner_id, patient_id, service_id, starts_at, ends_at, status, \
               source, conversation_id, created_at, updated_at) VALUES ($1,$2,$3,$4,$5,$6,$7,'booked',$8,$9,$10,$10)",
        )
        .bind(id.to_string())
        .bind(a.clinic_id.to_string())
        .bind(a.practitioner_id.to_string())
        .bind(a.patient_id.to_string())
        .bind(a.service_id.to_string())
        .bind(to_ts(a.starts_at))
        .bind(to_ts(a.ends_at))
        .bind(a.source)
        .bind(a.conversation_id.map(|c| c.to_string()))
        .bind(to_ts(now))
        .execute(&mut *conn)
        .await?;
        Ok(BookOutcome::Booked(id))
    }

    /// Booked appointments from `now` on of the patients linked to `phone`.
    pub async fn upcoming_for_phone(&self, clinic: ClinicId, phone: &PhoneNumber, now: DateTime<Utc>) -> Result<Vec<UpcomingAppointment>> {
        let sql = format!(
            "SELECT {COLUMNS}, p.first_name, p.last_name FROM appointments a \
             JOIN patients p ON p.id = a.patient_id \
             JOIN patient_phones pp ON pp.patient_id = p.id AND pp.clinic_id = a.clinic_id \
             WHERE a.clinic_id = $1 AND pp.phone = $2 AND a.status = 'booked' AND a.ends_at > $3 ORDER BY a.starts_at"
        );
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(clinic.to_string())
            .bind(phone.as_str())
            .bind(to_ts(now))
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|row| {
                Ok(UpcomingAppointment {
                    appointment: appointment_from_row(row)?,
                    patient_first_name: row.try_get("first_name")?,
                    patient_last_name: row.try_get("last_name")?,
                })
            })
            .collect()
    }

    /// Every appointment of a clinic, oldest first (tests, exports).
    pub async fn appointments(&self, clinic: ClinicId) -> Result<Vec<Appointment>> {
        let sql = format!("SELECT {COLUMNS} FROM appointments a WHERE a.clinic_id = $1 ORDER BY a.starts_at, a.id");
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(clinic.to_string())
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(appointment_from_row)
            .collect()
    }
}
