//! Changes to one clinic's catalog from the admin API: settings, channel
//! credentials, practitioners, services (with their practitioners) and
//! weekly windows. `upsert_catalog` (clinic files) writes through the same
//! row functions.

use super::{Result, StorageError, Store, Tx, parse_id, to_ts};
use crate::domain::*;
use chrono::{DateTime, Utc};
use sqlx::{AnyConnection, Row};
use uuid::Uuid;

/// A weekly window as stored, with the id the admin API addresses it by.
#[derive(Debug, Clone)]
pub struct StoredWindow {
    pub id: Uuid,
    pub window: WeeklyWindow,
}

/// A unique index said no (a slug or a phone number already taken).
pub(super) fn unique_violation(e: sqlx::Error, what: &'static str) -> StorageError {
    match &e {
        sqlx::Error::Database(d) if d.is_unique_violation() => StorageError::Conflict(what),
        _ => StorageError::Database(e),
    }
}

impl Store {
    /// Creates a practitioner, or updates it if it already belongs to this
    /// clinic (a row of another clinic is never touched).
    /// Marks the clinic's catalog as changed, in the caller's transaction
    /// (see `catalog_version`).
    pub(super) async fn touch_catalog(conn: &mut AnyConnection, clinic: ClinicId) -> Result<()> {
        sqlx::query("UPDATE clinics SET catalog_version = catalog_version + 1 WHERE id = $1")
            .bind(clinic.to_string())
            .execute(conn)
            .await?;
        Ok(())
    }

    /// A number that moves with every change to the clinic's catalog: a
    /// catalog read when it had a value is current while it still has it.
    pub async fn catalog_version(&self, clinic: ClinicId) -> Result<i64> {
        let row =
            sqlx::query("SELECT catalog_version FROM clinics WHERE id = $1").bind(clinic.to_string()).fetch_optional(&self.pool).await?;
        row.map(|r| r.try_get::<i64, _>("catalog_version")).transpose()?.ok_or(StorageError::NotFound("clinic"))
    }

    pub(super) async fn upsert_practitioner(conn: &mut AnyConnection, p: &Practitioner, now: i64) -> Result<()> {
        Self::touch_catalog(conn, p.clinic_id).await?;
        sqlx::query(
            "INSERT INTO practitioners (id, clinic_id, title, first_name, last_name, active, created_at, updated_at, daily_limit, \
               calendar_token) VALUES ($1,$2,$3,$4,$5,$6,$7,$7,$8,$9) ON CONFLICT (id) DO UPDATE SET title = excluded.title, \
             first_name = excluded.first_name, last_name = excluded.last_name, active = excluded.active, \
             updated_at = excluded.updated_at, daily_limit = excluded.daily_limit WHERE practitioners.clinic_id = excluded.clinic_id",
        )
        .bind(p.id.to_string())
        .bind(p.clinic_id.to_string())
        .bind(&p.title)
        .bind(&p.first_name)
        .bind(&p.last_name)
        .bind(p.active as i64)
        .bind(now)
        .bind(p.daily_limit.map(|n| n as i64))
        .bind(crate::secrets::random_token())
        .execute(&mut *conn)
        .await?;
        Ok(())
    }

    /// Creates or updates a service and replaces the practitioners who perform it.
    pub(super) async fn upsert_service(conn: &mut AnyConnection, s: &Service, now: i64) -> Result<()> {
        Self::touch_catalog(conn, s.clinic_id).await?;
        sqlx::query(
            "INSERT INTO services (id, clinic_id, name_fr, name_en, duration_minutes, created_at, updated_at, \
               buffer_before_minutes, buffer_after_minutes, price) VALUES ($1,$2,$3,$4,$5,$6,$6,$7,$8,$9) \
             ON CONFLICT (id) DO UPDATE SET name_fr = excluded.name_fr, name_en = excluded.name_en, \
             duration_minutes = excluded.duration_minutes, updated_at = excluded.updated_at, \
             buffer_before_minutes = excluded.buffer_before_minutes, buffer_after_minutes = excluded.buffer_after_minutes, \
             price = excluded.price WHERE services.clinic_id = excluded.clinic_id",
        )
        .bind(s.id.to_string())
        .bind(s.clinic_id.to_string())
        .bind(&s.name_fr)
        .bind(&s.name_en)
        .bind(s.duration_minutes as i64)
        .bind(now)
        .bind(s.buffer_before_minutes as i64)
        .bind(s.buffer_after_minutes as i64)
        .bind(&s.price)
        .execute(&mut *conn)
        .await?;
        sqlx::query("DELETE FROM practitioner_services WHERE service_id = $1").bind(s.id.to_string()).execute(&mut *conn).await?;
        for p in &s.practitioners {
            let own = s.duration_overrides.iter().find(|(q, _)| q == p).map(|(_, m)| *m as i64);
            sqlx::query("INSERT INTO practitioner_services (practitioner_id, service_id, duration_minutes) VALUES ($1, $2, $3)")
                .bind(p.to_string())
                .bind(s.id.to_string())
                .bind(own)
                .execute(&mut *conn)
                .await?;
        }
        Ok(())
    }

    pub(super) async fn insert_window(conn: &mut AnyConnection, clinic: ClinicId, id: Uuid, w: &WeeklyWindow) -> Result<()> {
        Self::touch_catalog(conn, clinic).await?;
        sqlx::query(
            "INSERT INTO availability_windows (id, clinic_id, practitioner_id, weekday, start_minute, end_minute, capacity, mode) \
             VALUES ($1,$2,$3,$4,$5,$6,$7,$8)",
        )
        .bind(id.to_string())
        .bind(clinic.to_string())
        .bind(w.practitioner_id.to_string())
        .bind(w.weekday.number_from_monday() as i64)
        .bind(w.start_minute as i64)
        .bind(w.end_minute as i64)
        .bind(w.capacity as i64)
        .bind(w.mode.map(|m| m.as_str()))
        .execute(&mut *conn)
        .await?;
        for s in &w.services {
            sqlx::query("INSERT INTO window_services (window_id, service_id) VALUES ($1, $2)")
                .bind(id.to_string())
                .bind(s.to_string())
                .execute(&mut *conn)
                .await?;
        }
        Ok(())
    }

    async fn exists_in(tx: &mut Tx, table: &'static str, clinic: ClinicId, id: &str) -> Result<bool> {
        let sql = format!("SELECT 1 AS one FROM {table} WHERE id = $1 AND clinic_id = $2");
        Ok(sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id).bind(clinic.to_string()).fetch_optional(&mut **tx).await?.is_some())
    }

    /// A new clinic with no practitioners yet (superadmins). Its slug must be free.
    pub async fn create_clinic(&self, c: &Clinic, audit: &super::NewAuditEvent<'_>, now: DateTime<Utc>) -> Result<()> {
        let mut tx = self.begin().await?;
        let taken = sqlx::query("SELECT 1 AS one FROM clinics WHERE id = $1 OR slug = $2")
            .bind(c.id.to_string())
            .bind(&c.slug)
            .fetch_optional(&mut *tx)
            .await?;
        if taken.is_some() {
            return Err(StorageError::Conflict("clinic slug"));
        }
        Self::upsert_clinic_row(&mut tx, c, None, to_ts(now)).await?;
        Self::audit_in(&mut tx, audit, now).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Replaces the clinic's settings (not its slug, id or credentials).
    pub async fn update_clinic_settings(&self, c: &Clinic, audit: &super::NewAuditEvent<'_>, now: DateTime<Utc>) -> Result<()> {
        let mut tx = self.begin().await?;
        let done = sqlx::query(
            "UPDATE clinics SET name = $1, timezone = $2, default_language = $3, address = $4, phone = $5, emergency_number = $6, \
               opening_hours_fr = $7, opening_hours_en = $8, booking_horizon_days = $9, min_notice_minutes = $10, \
               whatsapp_number = $11, sms_number = $12, opening_days = $13, answers = $14, model_policy = $15, updated_at = $16, \
               calendar_patient_names = $18, catalog_version = catalog_version + 1 \
             WHERE id = $17",
        )
        .bind(&c.name)
        .bind(c.timezone.name())
        .bind(c.default_language.as_str())
        .bind(&c.address)
        .bind(&c.phone)
        .bind(&c.emergency_number)
        .bind(&c.opening_hours_fr)
        .bind(&c.opening_hours_en)
        .bind(c.booking_horizon_days as i64)
        .bind(c.min_notice_minutes as i64)
        .bind(&c.whatsapp_number)
        .bind(&c.sms_number)
        .bind(c.opening_days.bits() as i64)
        .bind(serde_json::to_string(&c.answers).expect("answers serialise"))
        .bind(c.model_policy.as_str())
        .bind(to_ts(now))
        .bind(c.id.to_string())
        .bind(c.calendar_patient_names as i64)
        .execute(&mut *tx)
        .await
        .map_err(|e| unique_violation(e, "channel number"))?;
        if done.rows_affected() != 1 {
            return Err(StorageError::NotFound("clinic"));
        }
        Self::audit_in(&mut tx, audit, now).await?;
        Ok(tx.commit().await?)
    }

    /// Stores the Twilio account of a clinic; the token arrives already encrypted.
    pub async fn set_twilio_credentials(
        &self,
        clinic: ClinicId,
        creds: &super::TwilioCredentials,
        audit: &super::NewAuditEvent<'_>,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        let done = sqlx::query("UPDATE clinics SET twilio_account_sid = $1, twilio_auth_token_enc = $2, updated_at = $3 WHERE id = $4")
            .bind(&creds.account_sid)
            .bind(&creds.auth_token_encrypted)
            .bind(to_ts(now))
            .bind(clinic.to_string())
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() != 1 {
            return Err(StorageError::NotFound("clinic"));
        }
        Self::audit_in(&mut tx, audit, now).await?;
        Ok(tx.commit().await?)
    }

    /// Creates (`create`) or updates a practitioner of `p.clinic_id`.
    pub async fn save_practitioner(
        &self,
        p: &Practitioner,
        create: bool,
        audit: &super::NewAuditEvent<'_>,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        if !create && !Self::exists_in(&mut tx, "practitioners", p.clinic_id, &p.id.to_string()).await? {
            return Err(StorageError::NotFound("practitioner"));
        }
        Self::upsert_practitioner(&mut tx, p, to_ts(now)).await?;
        Self::audit_in(&mut tx, audit, now).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Creates or updates a service of `s.clinic_id`; every practitioner named
    /// must belong to the same clinic.
    pub async fn save_service(&self, s: &Service, create: bool, audit: &super::NewAuditEvent<'_>, now: DateTime<Utc>) -> Result<()> {
        let mut tx = self.begin().await?;
        if !create && !Self::exists_in(&mut tx, "services", s.clinic_id, &s.id.to_string()).await? {
            return Err(StorageError::NotFound("service"));
        }
        for p in &s.practitioners {
            if !Self::exists_in(&mut tx, "practitioners", s.clinic_id, &p.to_string()).await? {
                return Err(StorageError::NotFound("practitioner"));
            }
        }
        Self::upsert_service(&mut tx, s, to_ts(now)).await?;
        Self::audit_in(&mut tx, audit, now).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Booked appointments still to come, of a practitioner or of a service.
    pub async fn future_bookings(&self, clinic: ClinicId, column: FutureOf, id: Uuid, now: DateTime<Utc>) -> Result<i64> {
        let column = match column {
            FutureOf::Practitioner => "practitioner_id",
            FutureOf::Service => "service_id",
        };
        let sql =
            format!("SELECT COUNT(*) AS n FROM appointments WHERE clinic_id = $1 AND {column} = $2 AND status = 'booked' AND ends_at > $3");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(clinic.to_string())
            .bind(id.to_string())
            .bind(to_ts(now))
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get::<i64, _>("n")?)
    }

    /// Retires a service: no longer offered, kept for the appointments that used it.
    pub async fn archive_service(
        &self,
        clinic: ClinicId,
        id: ServiceId,
        audit: &super::NewAuditEvent<'_>,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        let mut tx = self.begin().await?;
        let done =
            sqlx::query("UPDATE services SET archived_at = $1, updated_at = $1 WHERE id = $2 AND clinic_id = $3 AND archived_at IS NULL")
                .bind(to_ts(now))
                .bind(id.to_string())
                .bind(clinic.to_string())
                .execute(&mut *tx)
                .await?;
        if done.rows_affected() != 1 {
            return Ok(false);
        }
        Self::touch_catalog(&mut tx, clinic).await?;
        Self::audit_in(&mut tx, audit, now).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// The clinic's weekly windows with their ids.
    pub async fn windows(&self, clinic: ClinicId) -> Result<Vec<StoredWindow>> {
        let catalog_windows = self.catalog_windows(clinic).await?;
        catalog_windows.into_iter().map(|(id, window)| Ok(StoredWindow { id: parse_id(&id, Uuid::parse_str)?, window })).collect()
    }

    /// Adds a window; its practitioner and services must belong to the clinic.
    pub async fn add_window(&self, clinic: ClinicId, w: &StoredWindow, audit: &super::NewAuditEvent<'_>, now: DateTime<Utc>) -> Result<()> {
        let mut tx = self.begin().await?;
        if !Self::exists_in(&mut tx, "practitioners", clinic, &w.window.practitioner_id.to_string()).await? {
            return Err(StorageError::NotFound("practitioner"));
        }
        for s in &w.window.services {
            if !Self::exists_in(&mut tx, "services", clinic, &s.to_string()).await? {
                return Err(StorageError::NotFound("service"));
            }
        }
        Self::insert_window(&mut tx, clinic, w.id, &w.window).await?;
        Self::audit_in(&mut tx, audit, now).await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn delete_window(&self, clinic: ClinicId, id: Uuid, audit: &super::NewAuditEvent<'_>, now: DateTime<Utc>) -> Result<bool> {
        let mut tx = self.begin().await?;
        if !Self::exists_in(&mut tx, "availability_windows", clinic, &id.to_string()).await? {
            return Ok(false);
        }
        Self::touch_catalog(&mut tx, clinic).await?;
        sqlx::query("DELETE FROM window_services WHERE window_id = $1").bind(id.to_string()).execute(&mut *tx).await?;
        sqlx::query("DELETE FROM availability_windows WHERE id = $1 AND clinic_id = $2")
            .bind(id.to_string())
            .bind(clinic.to_string())
            .execute(&mut *tx)
            .await?;
        Self::audit_in(&mut tx, audit, now).await?;
        tx.commit().await?;
        Ok(true)
    }
}

/// Whose future bookings to count.
#[derive(Debug, Clone, Copy)]
pub enum FutureOf {
    Practitioner,
    Service,
}
