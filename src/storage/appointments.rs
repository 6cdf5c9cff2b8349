//! Appointments. The no-double-booking guarantee starts here: every change to
//! a practitioner's time first writes that practitioner's row (`booking_seq`),
//! which takes a row lock on PostgreSQL and the write lock on SQLite. Changes
//! of one practitioner's time are therefore serialised by the database itself,
//! and the occupancy read after the lock sees every committed booking; the
//! scheduling shell (`crate::scheduling::book`) decides from that read only.

use super::{Result, StorageError, Store, from_ts, parse_id, to_ts};
use crate::domain::*;
use chrono::{DateTime, Utc};
use sqlx::AnyConnection;
use sqlx::Row;
use sqlx::any::AnyRow;

/// A booking the scheduling shell has already checked under the lock.
#[derive(Debug, Clone)]
pub struct NewAppointment {
    pub clinic_id: ClinicId,
    pub practitioner_id: PractitionerId,
    pub patient_id: PatientId,
    pub service_id: ServiceId,
    pub mode: ConsultationMode,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub blocked_from: DateTime<Utc>,
    pub blocked_until: DateTime<Utc>,
    pub source: &'static str,
    pub conversation_id: Option<ConversationId>,
}

#[derive(Debug, Clone)]
pub struct UpcomingAppointment {
    pub appointment: Appointment,
    pub patient_first_name: String,
    pub patient_last_name: String,
}

const COLUMNS: &str =
    "a.id, a.clinic_id, a.practitioner_id, a.patient_id, a.service_id, a.starts_at, a.ends_at, a.status, a.mode, a.attendance_confirmed_at";

fn appointment_from_row(row: &AnyRow) -> Result<Appointment> {
    let status: String = row.try_get("status")?;
    let mode: String = row.try_get("mode")?;
    Ok(Appointment {
        id: parse_id(&row.try_get::<String, _>("id")?, AppointmentId::parse)?,
        clinic_id: parse_id(&row.try_get::<String, _>("clinic_id")?, ClinicId::parse)?,
        practitioner_id: parse_id(&row.try_get::<String, _>("practitioner_id")?, PractitionerId::parse)?,
        patient_id: parse_id(&row.try_get::<String, _>("patient_id")?, PatientId::parse)?,
        service_id: parse_id(&row.try_get::<String, _>("service_id")?, ServiceId::parse)?,
        starts_at: from_ts(row.try_get("starts_at")?)?,
        ends_at: from_ts(row.try_get("ends_at")?)?,
        status: AppointmentStatus::parse(&status).ok_or_else(|| StorageError::Corrupt(format!("bad status {status}")))?,
        mode: ConsultationMode::parse(&mode).ok_or_else(|| StorageError::Corrupt(format!("bad mode {mode}")))?,
        attendance_confirmed_at: row.try_get::<Option<i64>, _>("attendance_confirmed_at")?.map(from_ts).transpose()?,
    })
}

impl Store {
    /// Inside a transaction, first thing: takes the practitioner's booking
    /// lock (a row write). Every booking, move and cancellation of this
    /// practitioner's time waits here until the one before commits.
    pub async fn lock_practitioner(conn: &mut AnyConnection, clinic: ClinicId, practitioner: PractitionerId) -> Result<()> {
        let locked = sqlx::query("UPDATE practitioners SET booking_seq = booking_seq + 1 WHERE id = $1 AND clinic_id = $2")
            .bind(practitioner.to_string())
            .bind(clinic.to_string())
            .execute(&mut *conn)
            .await?;
        if locked.rows_affected() != 1 {
            return Err(StorageError::NotFound("practitioner"));
        }
        Ok(())
    }

    /// The time taken from one practitioner, read inside the transaction
    /// (after [`lock_practitioner`](Self::lock_practitioner)).
    pub async fn practitioner_occupancy(
        conn: &mut AnyConnection,
        clinic: ClinicId,
        practitioner: PractitionerId,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Occupancy> {
        Self::occupancy_in(conn, clinic, Some(practitioner), from, to).await
    }

    /// Inserts a booking already checked under the practitioner's lock.
    pub async fn insert_appointment(conn: &mut AnyConnection, a: &NewAppointment, now: DateTime<Utc>) -> Result<AppointmentId> {
        let id = AppointmentId::random();
        sqlx::query(
            "INSERT INTO appointments (id, clinic_id, practitioner_id, patient_id, service_id, starts_at, ends_at, status, \
               source, conversation_id, created_at, updated_at, blocked_from, blocked_until, mode, calendar_token) \
             VALUES ($1,$2,$3,$4,$5,$6,$7,'booked',$8,$9,$10,$10,$11,$12,$13,$14)",
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
        .bind(to_ts(a.blocked_from))
        .bind(to_ts(a.blocked_until))
        .bind(a.mode.as_str())
        .bind(crate::secrets::random_token())
        .execute(&mut *conn)
        .await?;
        Self::queue_calendar_write(conn, id, now).await?;
        Self::schedule_reminders(conn, id, now).await?;
        Self::schedule_feedback(conn, id, super::VisitEvent::Booked, now).await?;
        Ok(id)
    }

    /// One appointment of the clinic, read on `conn` (inside a transaction
    /// when the caller is about to change it).
    pub async fn appointment_in(conn: &mut AnyConnection, clinic: ClinicId, id: AppointmentId) -> Result<Option<Appointment>> {
        let sql = format!("SELECT {COLUMNS} FROM appointments a WHERE a.id = $1 AND a.clinic_id = $2");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id.to_string()).bind(clinic.to_string()).fetch_optional(&mut *conn).await?;
        row.as_ref().map(appointment_from_row).transpose()
    }

    pub async fn appointment(&self, clinic: ClinicId, id: AppointmentId) -> Result<Option<Appointment>> {
        let mut conn = self.pool.acquire().await?;
        Self::appointment_in(&mut conn, clinic, id).await
    }

    /// Moves a booked appointment (checked under the locks of both
    /// practitioners): one UPDATE, so the old time is freed exactly when the
    /// new one is taken.
    pub async fn move_appointment(conn: &mut AnyConnection, id: AppointmentId, to: &NewAppointment, now: DateTime<Utc>) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE appointments SET practitioner_id = $1, starts_at = $2, ends_at = $3, blocked_from = $4, blocked_until = $5, \
               updated_at = $6 WHERE id = $7 AND clinic_id = $8 AND status = 'booked'",
        )
        .bind(to.practitioner_id.to_string())
        .bind(to_ts(to.starts_at))
        .bind(to_ts(to.ends_at))
        .bind(to_ts(to.blocked_from))
        .bind(to_ts(to.blocked_until))
        .bind(to_ts(now))
        .bind(id.to_string())
        .bind(to.clinic_id.to_string())
        .execute(&mut *conn)
        .await?;
        if done.rows_affected() == 1 {
            Self::queue_calendar_write(conn, id, now).await?;
            Self::schedule_reminders(conn, id, now).await?;
            Self::schedule_feedback(conn, id, super::VisitEvent::Booked, now).await?;
        }
        Ok(done.rows_affected() == 1)
    }

    /// Cancels a booked appointment; its time is free for the next search.
    /// False when it was not booked (already cancelled, or not this clinic's).
    pub async fn cancel_appointment(conn: &mut AnyConnection, clinic: ClinicId, id: AppointmentId, now: DateTime<Utc>) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE appointments SET status = 'cancelled', updated_at = $1 WHERE id = $2 AND clinic_id = $3 AND status = 'booked'",
        )
        .bind(to_ts(now))
        .bind(id.to_string())
        .bind(clinic.to_string())
        .execute(&mut *conn)
        .await?;
        if done.rows_affected() == 1 {
            Self::queue_calendar_write(conn, id, now).await?;
            Self::cancel_reminders(conn, id, "cancelled", now).await?;
            Self::schedule_feedback(conn, id, super::VisitEvent::Closed, now).await?;
        }
        Ok(done.rows_affected() == 1)
    }

    /// The secret token of an appointment's calendar file.
    pub async fn appointment_calendar_token(&self, id: AppointmentId) -> Result<Option<String>> {
        let mut conn = self.pool.acquire().await?;
        Self::calendar_token_in(&mut conn, id).await
    }

    /// The calendar-file token of an appointment, read on `conn` (the booking's transaction).
    pub async fn calendar_token_in(conn: &mut AnyConnection, id: AppointmentId) -> Result<Option<String>> {
        let row =
            sqlx::query("SELECT calendar_token FROM appointments WHERE id = $1").bind(id.to_string()).fetch_optional(&mut *conn).await?;
        Ok(row.map(|r| r.try_get::<Option<String>, _>("calendar_token")).transpose()?.flatten())
    }

    /// The appointment a calendar-file token names.
    pub async fn appointment_by_calendar_token(&self, token: &str) -> Result<Option<Appointment>> {
        let sql = format!("SELECT {COLUMNS} FROM appointments a WHERE a.calendar_token = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(token).fetch_optional(&self.pool).await?;
        row.as_ref().map(appointment_from_row).transpose()
    }

    /// The practitioner (and clinic) a calendar-feed token names.
    pub async fn practitioner_by_calendar_token(&self, token: &str) -> Result<Option<(ClinicId, PractitionerId)>> {
        let row =
            sqlx::query("SELECT id, clinic_id FROM practitioners WHERE calendar_token = $1").bind(token).fetch_optional(&self.pool).await?;
        row.map(|r| {
            Ok((
                parse_id(&r.try_get::<String, _>("clinic_id")?, ClinicId::parse)?,
                parse_id(&r.try_get::<String, _>("id")?, PractitionerId::parse)?,
            ))
        })
        .transpose()
    }

    pub async fn practitioner_calendar_token(&self, practitioner: PractitionerId) -> Result<Option<String>> {
        let row = sqlx::query("SELECT calendar_token FROM practitioners WHERE id = $1")
            .bind(practitioner.to_string())
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| r.try_get::<Option<String>, _>("calendar_token")).transpose()?.flatten())
    }

    /// A practitioner's appointments (booked or cancelled) ending after `from`, for the feed.
    pub async fn practitioner_appointments(&self, practitioner: PractitionerId, from: DateTime<Utc>) -> Result<Vec<Appointment>> {
        let sql =
            format!("SELECT {COLUMNS} FROM appointments a WHERE a.practitioner_id = $1 AND a.ends_at > $2 ORDER BY a.starts_at, a.id");
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(practitioner.to_string())
            .bind(to_ts(from))
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(appointment_from_row)
            .collect()
    }

    /// Booked appointments from `now` on of the patients linked to `phone`.
    pub async fn upcoming_for_phone(&self, clinic: ClinicId, phone: &PhoneNumber, now: DateTime<Utc>) -> Result<Vec<UpcomingAppointment>> {
        let sql = format!(
            // The phone's patients first (a handful), then each one's
            // appointments through their index: never a scan of the clinic's.
            // The clinic is checked on the appointment too, written so that
            // no planner takes it as the way in (`|| ''` hides the index).
            "SELECT {COLUMNS}, p.first_name, p.last_name FROM appointments a \
             JOIN patients p ON p.id = a.patient_id \
             WHERE a.patient_id IN (SELECT pp.patient_id FROM patient_phones pp WHERE pp.clinic_id = $1 AND pp.phone = $2) \
             AND a.clinic_id || '' = $1 AND a.status = 'booked' AND a.ends_at > $3 ORDER BY a.starts_at"
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

    /// Appointments of a clinic overlapping `[from, to)`, optionally of one
    /// patient, oldest first (the admin API's agenda and patient pages).
    pub async fn appointments_between(
        &self,
        clinic: ClinicId,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        patient: Option<PatientId>,
    ) -> Result<Vec<Appointment>> {
        let mut q = super::sql::Statement::new(format!(
            "SELECT {COLUMNS} FROM appointments a WHERE a.clinic_id = $1 AND a.starts_at < $3 AND a.ends_at > $2"
        ));
        q.arg(clinic.to_string());
        q.arg(to_ts(from));
        q.arg(to_ts(to));
        if let Some(patient) = patient {
            let p = q.arg(patient.to_string());
            q.push(&format!("AND a.patient_id = {p}"));
        }
        q.push("ORDER BY a.starts_at, a.id");
        q.fetch_rows(&self.pool).await?.iter().map(appointment_from_row).collect()
    }

    /// Every appointment of one patient of this clinic.
    pub async fn patient_appointments(&self, clinic: ClinicId, patient: PatientId) -> Result<Vec<Appointment>> {
        self.appointments_between(clinic, DateTime::<Utc>::MIN_UTC, DateTime::<Utc>::MAX_UTC, Some(patient)).await
    }
}
