//! Google Calendar records: connections (refresh token encrypted by the
//! caller), single-use OAuth states, the outbox of event writes (filled in
//! the same transaction as every appointment change), conflicts, and the
//! busy time a sync brings in.

use super::{NewAuditEvent, Result, StorageError, Store, from_ts, parse_id, to_ts};
use crate::domain::*;
use chrono::{DateTime, Utc};
use sqlx::AnyConnection;
use sqlx::Row;
use sqlx::any::AnyRow;
use std::collections::BTreeMap;

pub const CONNECTED: &str = "connected";
pub const NEEDS_RECONNECT: &str = "needs_reconnect";
/// The `external_busy.source` of Google's busy time.
pub const GOOGLE_SOURCE: &str = "google";

#[derive(Debug, Clone)]
pub struct GoogleConnection {
    pub practitioner_id: PractitionerId,
    pub clinic_id: ClinicId,
    pub status: String,
    /// `oauth` (refresh token) or `service_account` (acting as `subject`).
    pub kind: String,
    pub subject: Option<String>,
    pub refresh_token_enc: String,
    pub scope: String,
    /// The calendars Google listed (JSON, as `calendar::google` wrote it).
    pub calendars_json: String,
    pub busy_calendars: Vec<String>,
    pub booking_calendar: Option<String>,
    pub sync_tokens: BTreeMap<String, String>,
    pub last_sync_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub connected_at: DateTime<Utc>,
}

/// A connection being made: who it is for, and the PKCE verifier (encrypted by the caller).
#[derive(Debug, Clone)]
pub struct OAuthState {
    pub clinic_id: ClinicId,
    pub practitioner_id: PractitionerId,
    pub verifier_enc: String,
    pub created_by: String,
}

/// An event write claimed by a worker.
#[derive(Debug, Clone)]
pub struct CalendarWrite {
    pub appointment_id: AppointmentId,
    pub practitioner_id: PractitionerId,
    pub clinic_id: ClinicId,
    pub changes: i64,
    pub attempts: i64,
    /// The lease this node holds on it.
    pub claim: super::jobs::Claim,
}

/// Bookings to write to practitioners' Google calendars: a job until
/// written (a change since makes it due again), for connected calendars only.
pub static CALENDAR_WRITES: super::jobs::Queue = super::jobs::Queue {
    name: "calendar_writes",
    table: "calendar_outbox",
    key: &[("appointment_id", super::jobs::KeyType::Text), ("practitioner_id", super::jobs::KeyType::Text)],
    run_at: "due_at",
    lease: "lease_until",
    attempts: "attempts",
    error: "last_error",
    open: "done = 0",
    sequence: None,
    join: Some("JOIN google_connections g ON g.practitioner_id = calendar_outbox.practitioner_id AND g.status = 'connected'"),
    index: None,
    order: "calendar_outbox.due_at",
    on_claim: "",
    on_release: "",
    on_bury: ", done = 1",
    on_revive: ", done = 0",
    returning: "clinic_id, changes",
};

/// Practitioners' calendars to read from Google: a recurring job, due again
/// after every sync, while the calendar is connected.
pub static GOOGLE_SYNCS: super::jobs::Queue = super::jobs::Queue {
    name: "calendar_syncs",
    table: "google_connections",
    key: &[("practitioner_id", super::jobs::KeyType::Text)],
    run_at: "next_sync_at",
    lease: "sync_lease_until",
    attempts: "attempts",
    error: "last_error",
    open: "status = 'connected'",
    sequence: None,
    join: None,
    index: None,
    order: "google_connections.next_sync_at",
    on_claim: "",
    on_release: "",
    on_bury: "",
    on_revive: "",
    returning: CONNECTION_COLUMNS,
};

#[derive(Debug, Clone)]
pub struct CalendarConflict {
    pub id: String,
    pub practitioner_id: PractitionerId,
    pub appointment_id: AppointmentId,
    pub kind: String,
    pub google_start: Option<DateTime<Utc>>,
    pub detected_at: DateTime<Utc>,
}

/// What one sync of one calendar found.
#[derive(Debug, Default)]
pub struct BusyChanges {
    /// Everything of this calendar is replaced (first sync, or a 410).
    pub full: bool,
    pub busy: Vec<(String, DateTime<Utc>, DateTime<Utc>)>,
    pub free: Vec<String>,
    /// Nuru's events the doctor deleted (`None`) or moved (their new start).
    pub conflicts: Vec<(AppointmentId, Option<DateTime<Utc>>)>,
}

/// Queues the booking-calendar write of the appointments `condition` picks
/// (`a` is the appointment, `g` its practitioner's connection; `$2` is now):
/// a new row, or a row already there made due again with its `changes` moved.
fn queue_writes_sql(condition: &str) -> String {
    format!(
        "INSERT INTO calendar_outbox (appointment_id, practitioner_id, clinic_id, changes, done, due_at, lease_until, attempts, updated_at) \
         SELECT a.id, a.practitioner_id, a.clinic_id, 1, 0, $2, 0, 0, $2 FROM appointments a \
           JOIN google_connections g ON g.practitioner_id = a.practitioner_id \
         WHERE {condition} AND g.booking_calendar IS NOT NULL \
         ON CONFLICT (appointment_id, practitioner_id) DO UPDATE SET changes = calendar_outbox.changes + 1, done = 0, \
           due_at = excluded.due_at, attempts = 0, updated_at = excluded.updated_at"
    )
}

pub const OAUTH: &str = "oauth";
pub const SERVICE_ACCOUNT: &str = "service_account";

const CONNECTION_COLUMNS: &str = "practitioner_id, clinic_id, status, kind, subject, refresh_token_enc, scope, calendars, busy_calendars, \
     booking_calendar, sync_tokens, last_sync_at, last_error, connected_at";

fn connection_from_row(row: &AnyRow) -> Result<GoogleConnection> {
    let json = |col: &str| -> Result<String> { row.try_get::<String, _>(col).map_err(StorageError::from) };
    let corrupt = |e: serde_json::Error| StorageError::Corrupt(format!("google connection: {e}"));
    Ok(GoogleConnection {
        practitioner_id: parse_id(&row.try_get::<String, _>("practitioner_id")?, PractitionerId::parse)?,
        clinic_id: parse_id(&row.try_get::<String, _>("clinic_id")?, ClinicId::parse)?,
        status: row.try_get("status")?,
        kind: row.try_get("kind")?,
        subject: row.try_get("subject")?,
        refresh_token_enc: row.try_get("refresh_token_enc")?,
        scope: row.try_get("scope")?,
        calendars_json: json("calendars")?,
        busy_calendars: serde_json::from_str(&json("busy_calendars")?).map_err(corrupt)?,
        booking_calendar: row.try_get("booking_calendar")?,
        sync_tokens: serde_json::from_str(&json("sync_tokens")?).map_err(corrupt)?,
        last_sync_at: row.try_get::<Option<i64>, _>("last_sync_at")?.map(from_ts).transpose()?,
        last_error: row.try_get("last_error")?,
        connected_at: from_ts(row.try_get("connected_at")?)?,
    })
}

impl Store {
    pub async fn save_oauth_state(
        &self,
        state_hash: &str,
        s: &OAuthState,
        expires_at: DateTime<Utc>,
        audit: &NewAuditEvent<'_>,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        // Expired states of anyone go at the same time.
        sqlx::query("DELETE FROM google_oauth_states WHERE expires_at < $1").bind(to_ts(now)).execute(&mut *tx).await?;
        sqlx::query(
            "INSERT INTO google_oauth_states (state_hash, clinic_id, practitioner_id, verifier_enc, created_by, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(state_hash)
        .bind(s.clinic_id.to_string())
        .bind(s.practitioner_id.to_string())
        .bind(&s.verifier_enc)
        .bind(&s.created_by)
        .bind(to_ts(expires_at))
        .execute(&mut *tx)
        .await?;
        Self::audit_in(&mut tx, audit, now).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Takes a state once: the row is deleted as it is read, so a replay
    /// finds nothing. An expired state is taken and refused.
    pub async fn take_oauth_state(&self, state_hash: &str, now: DateTime<Utc>) -> Result<Option<OAuthState>> {
        let row = sqlx::query(
            "DELETE FROM google_oauth_states WHERE state_hash = $1 \
             RETURNING clinic_id, practitioner_id, verifier_enc, created_by, expires_at",
        )
        .bind(state_hash)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        if row.try_get::<i64, _>("expires_at")? < to_ts(now) {
            return Ok(None);
        }
        Ok(Some(OAuthState {
            clinic_id: parse_id(&row.try_get::<String, _>("clinic_id")?, ClinicId::parse)?,
            practitioner_id: parse_id(&row.try_get::<String, _>("practitioner_id")?, PractitionerId::parse)?,
            verifier_enc: row.try_get("verifier_enc")?,
            created_by: row.try_get("created_by")?,
        }))
    }

    /// A new or renewed connection (the caller keeps an earlier choice of
    /// calendars that still exist), with a sync due at once.
    pub async fn save_google_connection(&self, c: &GoogleConnection, audit: &NewAuditEvent<'_>, now: DateTime<Utc>) -> Result<()> {
        let mut tx = self.begin().await?;
        sqlx::query(
            "INSERT INTO google_connections (practitioner_id, clinic_id, status, refresh_token_enc, scope, calendars, busy_calendars, \
               booking_calendar, sync_tokens, next_sync_at, connected_at, updated_at, kind, subject) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, '{}', 0, $9, $9, $10, $11) \
             ON CONFLICT (practitioner_id) DO UPDATE SET status = excluded.status, refresh_token_enc = excluded.refresh_token_enc, \
               kind = excluded.kind, subject = excluded.subject, \
               scope = excluded.scope, calendars = excluded.calendars, busy_calendars = excluded.busy_calendars, \
               booking_calendar = excluded.booking_calendar, next_sync_at = 0, sync_lease_until = 0, last_error = NULL, \
               connected_at = excluded.connected_at, updated_at = excluded.updated_at",
        )
        .bind(c.practitioner_id.to_string())
        .bind(c.clinic_id.to_string())
        .bind(&c.status)
        .bind(&c.refresh_token_enc)
        .bind(&c.scope)
        .bind(&c.calendars_json)
        .bind(serde_json::to_string(&c.busy_calendars).expect("json"))
        .bind(&c.booking_calendar)
        .bind(to_ts(now))
        .bind(&c.kind)
        .bind(&c.subject)
        .execute(&mut *tx)
        .await?;
        Self::queue_practitioner_writes(&mut tx, c.practitioner_id, now).await?;
        Self::audit_in(&mut tx, audit, now).await?;
        tx.commit().await?;
        Ok(())
    }

    /// A Workspace clinic's service account key (encrypted by the caller).
    pub async fn set_google_service_account(
        &self,
        clinic: ClinicId,
        client_email: &str,
        key_enc: &str,
        audit: &NewAuditEvent<'_>,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        sqlx::query(
            "INSERT INTO google_service_accounts (clinic_id, client_email, key_enc, updated_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (clinic_id) DO UPDATE SET client_email = excluded.client_email, key_enc = excluded.key_enc, \
               updated_at = excluded.updated_at",
        )
        .bind(clinic.to_string())
        .bind(client_email)
        .bind(key_enc)
        .bind(to_ts(now))
        .execute(&mut *tx)
        .await?;
        Self::audit_in(&mut tx, audit, now).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The clinic's service account: its e-mail and encrypted key.
    pub async fn google_service_account(&self, clinic: ClinicId) -> Result<Option<(String, String)>> {
        let row = sqlx::query("SELECT client_email, key_enc FROM google_service_accounts WHERE clinic_id = $1")
            .bind(clinic.to_string())
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| Ok((r.try_get("client_email")?, r.try_get("key_enc")?))).transpose()
    }

    pub async fn google_connection(&self, clinic: ClinicId, practitioner: PractitionerId) -> Result<Option<GoogleConnection>> {
        let sql = format!("SELECT {CONNECTION_COLUMNS} FROM google_connections WHERE practitioner_id = $1 AND clinic_id = $2");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(practitioner.to_string())
            .bind(clinic.to_string())
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(connection_from_row).transpose()
    }

    /// The practitioner's connection if it is usable (connected) — whatever the clinic.
    pub async fn google_connection_of(&self, practitioner: PractitionerId) -> Result<Option<GoogleConnection>> {
        let sql = format!("SELECT {CONNECTION_COLUMNS} FROM google_connections WHERE practitioner_id = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(practitioner.to_string()).fetch_optional(&self.pool).await?;
        row.as_ref().map(connection_from_row).transpose()
    }

    /// The clinic chose which calendars count as busy and which receives
    /// bookings. Calendars no longer counted lose their busy time and sync
    /// token; every upcoming booking is queued for the booking calendar.
    pub async fn choose_google_calendars(
        &self,
        clinic: ClinicId,
        practitioner: PractitionerId,
        busy: &[String],
        booking: Option<&str>,
        audit: &NewAuditEvent<'_>,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        let mut tx = self.begin().await?;
        let sql = format!("SELECT {CONNECTION_COLUMNS} FROM google_connections WHERE practitioner_id = $1 AND clinic_id = $2");
        let row =
            sqlx::query(sqlx::AssertSqlSafe(sql)).bind(practitioner.to_string()).bind(clinic.to_string()).fetch_optional(&mut *tx).await?;
        let Some(current) = row.as_ref().map(connection_from_row).transpose()? else { return Ok(false) };
        let tokens: BTreeMap<&String, &String> = current.sync_tokens.iter().filter(|(c, _)| busy.contains(c)).collect();
        for dropped in current.busy_calendars.iter().filter(|c| !busy.contains(c)) {
            let prefix = format!("{dropped}/");
            sqlx::query(
                "DELETE FROM external_busy WHERE practitioner_id = $1 AND source = $2 AND substr(external_id, 1, CAST($3 AS INTEGER)) = $4",
            )
            .bind(practitioner.to_string())
            .bind(GOOGLE_SOURCE)
            .bind(prefix.chars().count() as i64)
            .bind(prefix)
            .execute(&mut *tx)
            .await?;
        }
        sqlx::query(
            "UPDATE google_connections SET busy_calendars = $1, booking_calendar = $2, sync_tokens = $3, next_sync_at = 0, updated_at = $4 \
             WHERE practitioner_id = $5",
        )
        .bind(serde_json::to_string(busy).expect("json"))
        .bind(booking)
        .bind(serde_json::to_string(&tokens).expect("json"))
        .bind(to_ts(now))
        .bind(practitioner.to_string())
        .execute(&mut *tx)
        .await?;
        Self::queue_practitioner_writes(&mut tx, practitioner, now).await?;
        Self::audit_in(&mut tx, audit, now).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Disconnect: the connection, its pending writes and its busy time go.
    pub async fn delete_google_connection(
        &self,
        clinic: ClinicId,
        practitioner: PractitionerId,
        audit: &NewAuditEvent<'_>,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        let mut tx = self.begin().await?;
        let done = sqlx::query("DELETE FROM google_connections WHERE practitioner_id = $1 AND clinic_id = $2")
            .bind(practitioner.to_string())
            .bind(clinic.to_string())
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Ok(false);
        }
        sqlx::query("DELETE FROM calendar_outbox WHERE practitioner_id = $1").bind(practitioner.to_string()).execute(&mut *tx).await?;
        sqlx::query("DELETE FROM external_busy WHERE practitioner_id = $1 AND source = $2")
            .bind(practitioner.to_string())
            .bind(GOOGLE_SOURCE)
            .execute(&mut *tx)
            .await?;
        Self::audit_in(&mut tx, audit, now).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Google refused the grant: nothing is retried until the doctor
    /// connects again; the busy time already synchronised stays.
    pub async fn mark_google_needs_reconnect(&self, practitioner: PractitionerId, error: &str, now: DateTime<Utc>) -> Result<()> {
        sqlx::query(
            "UPDATE google_connections SET status = $1, last_error = $2, sync_lease_until = 0, updated_at = $3 WHERE practitioner_id = $4",
        )
        .bind(NEEDS_RECONNECT)
        .bind(error)
        .bind(to_ts(now))
        .bind(practitioner.to_string())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Claims the connection whose sync is due longest, for `lease_until`.
    pub async fn claim_google_sync(&self, now: DateTime<Utc>, lease_until: DateTime<Utc>) -> Result<Option<GoogleConnection>> {
        let Some((_, row)) = self.claim_job(&GOOGLE_SYNCS, now, lease_until).await? else { return Ok(None) };
        connection_from_row(&row).map(Some)
    }

    /// Makes a practitioner's sync due now (`nuru calendar sync`, a reconnect).
    pub async fn google_sync_now(&self, practitioner: PractitionerId) -> Result<bool> {
        let done = sqlx::query("UPDATE google_connections SET next_sync_at = 0, sync_lease_until = 0 WHERE practitioner_id = $1")
            .bind(practitioner.to_string())
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Applies what one calendar's sync found, in one transaction with its
    /// new sync token (a crash in between leaves the old token, and the next
    /// sync reads the same changes again).
    pub async fn apply_google_sync(
        &self,
        practitioner: PractitionerId,
        calendar: &str,
        changes: &BusyChanges,
        sync_token: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        let row = sqlx::query("SELECT clinic_id, sync_tokens FROM google_connections WHERE practitioner_id = $1")
            .bind(practitioner.to_string())
            .fetch_optional(&mut *tx)
            .await?;
        let Some(row) = row else { return Err(StorageError::NotFound("google connection")) };
        let clinic: String = row.try_get("clinic_id")?;
        let mut tokens: BTreeMap<String, String> = serde_json::from_str(&row.try_get::<String, _>("sync_tokens")?)
            .map_err(|e| StorageError::Corrupt(format!("sync tokens: {e}")))?;
        let prefix = format!("{calendar}/");
        if changes.full {
            sqlx::query(
                "DELETE FROM external_busy WHERE practitioner_id = $1 AND source = $2 AND substr(external_id, 1, CAST($3 AS INTEGER)) = $4",
            )
            .bind(practitioner.to_string())
            .bind(GOOGLE_SOURCE)
            .bind(prefix.chars().count() as i64)
            .bind(&prefix)
            .execute(&mut *tx)
            .await?;
        }
        for key in &changes.free {
            sqlx::query("DELETE FROM external_busy WHERE practitioner_id = $1 AND source = $2 AND external_id = $3")
                .bind(practitioner.to_string())
                .bind(GOOGLE_SOURCE)
                .bind(key)
                .execute(&mut *tx)
                .await?;
        }
        for (key, start, end) in &changes.busy {
            sqlx::query(
                "INSERT INTO external_busy (id, clinic_id, practitioner_id, source, external_id, starts_at, ends_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
                 ON CONFLICT (practitioner_id, source, external_id) DO UPDATE SET starts_at = excluded.starts_at, \
                   ends_at = excluded.ends_at, updated_at = excluded.updated_at",
            )
            .bind(uuid::Uuid::new_v4().to_string())
            .bind(&clinic)
            .bind(practitioner.to_string())
            .bind(GOOGLE_SOURCE)
            .bind(key)
            .bind(to_ts(*start))
            .bind(to_ts(*end))
            .bind(to_ts(now))
            .execute(&mut *tx)
            .await?;
        }
        for (appointment, google_start) in &changes.conflicts {
            // Only a booked appointment of this practitioner whose event is
            // not about to be written again is in conflict.
            let found = sqlx::query(
                "SELECT starts_at FROM appointments a WHERE a.id = $1 AND a.practitioner_id = $2 AND a.status = 'booked' \
                   AND NOT EXISTS (SELECT 1 FROM calendar_outbox o WHERE o.appointment_id = a.id AND o.done = 0)",
            )
            .bind(appointment.to_string())
            .bind(practitioner.to_string())
            .fetch_optional(&mut *tx)
            .await?;
            let Some(found) = found else { continue };
            let starts_at: i64 = found.try_get("starts_at")?;
            let kind = match google_start {
                None => "deleted_in_google",
                Some(s) if to_ts(*s) != starts_at => "moved_in_google",
                Some(_) => continue,
            };
            sqlx::query(
                "INSERT INTO calendar_conflicts (id, clinic_id, practitioner_id, appointment_id, kind, google_start, detected_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (appointment_id, kind) DO NOTHING",
            )
            .bind(uuid::Uuid::new_v4().to_string())
            .bind(&clinic)
            .bind(practitioner.to_string())
            .bind(appointment.to_string())
            .bind(kind)
            .bind(google_start.map(to_ts))
            .bind(to_ts(now))
            .execute(&mut *tx)
            .await?;
        }
        match sync_token {
            Some(t) => tokens.insert(calendar.to_string(), t.to_string()),
            None => tokens.remove(calendar),
        };
        sqlx::query("UPDATE google_connections SET sync_tokens = $1 WHERE practitioner_id = $2")
            .bind(serde_json::to_string(&tokens).expect("json"))
            .bind(practitioner.to_string())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The end of a sync run: when the next one is due, and its error if any.
    pub async fn finish_google_sync(
        &self,
        practitioner: PractitionerId,
        next_at: DateTime<Utc>,
        error: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let ok = error.is_none();
        if ok {
            // The busy time free/busy checks noted before bookings has now
            // come in through the sync (or is gone from Google): drop it, so
            // a meeting the doctor removed stops blocking the time.
            sqlx::query("DELETE FROM external_busy WHERE practitioner_id = $1 AND source = $2 AND substr(external_id, 1, 9) = 'freebusy/'")
                .bind(practitioner.to_string())
                .bind(GOOGLE_SOURCE)
                .execute(&self.pool)
                .await?;
        }
        sqlx::query(
            "UPDATE google_connections SET next_sync_at = $1, sync_lease_until = 0, last_error = $2, \
               last_sync_at = CASE WHEN $3 = 1 THEN $4 ELSE last_sync_at END, attempts = CASE WHEN $3 = 1 THEN 0 ELSE attempts END, \
               updated_at = $4 WHERE practitioner_id = $5",
        )
        .bind(to_ts(next_at))
        .bind(error)
        .bind(ok as i64)
        .bind(to_ts(now))
        .bind(practitioner.to_string())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Records Google's busy time read by a free/busy check right before a
    /// booking, so the alternatives offered in the same turn avoid it.
    pub async fn note_google_busy(
        &self,
        clinic: ClinicId,
        practitioner: PractitionerId,
        busy: &[(DateTime<Utc>, DateTime<Utc>)],
        now: DateTime<Utc>,
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        for (start, end) in busy {
            sqlx::query(
                "INSERT INTO external_busy (id, clinic_id, practitioner_id, source, external_id, starts_at, ends_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (practitioner_id, source, external_id) DO NOTHING",
            )
            .bind(uuid::Uuid::new_v4().to_string())
            .bind(clinic.to_string())
            .bind(practitioner.to_string())
            .bind(GOOGLE_SOURCE)
            .bind(format!("freebusy/{}-{}", to_ts(*start), to_ts(*end)))
            .bind(to_ts(*start))
            .bind(to_ts(*end))
            .bind(to_ts(now))
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Inside an appointment change's transaction: the booking calendar of
    /// its practitioner (and of any practitioner whose calendar showed it
    /// before a move) must follow. Nothing is queued for a practitioner
    /// without a booking calendar.
    pub async fn queue_calendar_write(conn: &mut AnyConnection, appointment: AppointmentId, now: DateTime<Utc>) -> Result<()> {
        sqlx::query(sqlx::AssertSqlSafe(queue_writes_sql("a.id = $1")))
            .bind(appointment.to_string())
            .bind(to_ts(now))
            .execute(&mut *conn)
            .await?;
        sqlx::query(
            "UPDATE calendar_outbox SET changes = changes + 1, done = 0, due_at = $2, attempts = 0, updated_at = $2 \
             WHERE appointment_id = $1 AND practitioner_id <> (SELECT practitioner_id FROM appointments WHERE id = $1)",
        )
        .bind(appointment.to_string())
        .bind(to_ts(now))
        .execute(&mut *conn)
        .await?;
        Ok(())
    }

    /// Every upcoming booking of a practitioner, queued for their booking calendar.
    async fn queue_practitioner_writes(conn: &mut AnyConnection, practitioner: PractitionerId, now: DateTime<Utc>) -> Result<()> {
        sqlx::query(sqlx::AssertSqlSafe(queue_writes_sql("a.practitioner_id = $1 AND a.status = 'booked' AND a.ends_at > $2")))
            .bind(practitioner.to_string())
            .bind(to_ts(now))
            .execute(&mut *conn)
            .await?;
        Ok(())
    }

    /// Claims the oldest due write of a connected practitioner.
    pub async fn claim_calendar_write(&self, now: DateTime<Utc>, lease_until: DateTime<Utc>) -> Result<Option<CalendarWrite>> {
        let Some((claim, row)) = self.claim_job(&CALENDAR_WRITES, now, lease_until).await? else { return Ok(None) };
        Ok(Some(CalendarWrite {
            appointment_id: parse_id(&row.try_get::<String, _>("appointment_id")?, AppointmentId::parse)?,
            practitioner_id: parse_id(&row.try_get::<String, _>("practitioner_id")?, PractitionerId::parse)?,
            clinic_id: parse_id(&row.try_get::<String, _>("clinic_id")?, ClinicId::parse)?,
            changes: row.try_get("changes")?,
            attempts: claim.attempts as i64,
            claim,
        }))
    }

    /// The write is in Google. If the appointment changed meanwhile
    /// (`changes` moved), the row stays due and is written again.
    pub async fn finish_calendar_write(&self, w: &CalendarWrite, now: DateTime<Utc>) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE calendar_outbox SET done = 1, lease_until = 0, last_error = NULL, updated_at = $1 \
             WHERE appointment_id = $2 AND practitioner_id = $3 AND changes = $4",
        )
        .bind(to_ts(now))
        .bind(w.appointment_id.to_string())
        .bind(w.practitioner_id.to_string())
        .bind(w.changes)
        .execute(&self.pool)
        .await?;
        if done.rows_affected() == 0 {
            sqlx::query("UPDATE calendar_outbox SET lease_until = 0 WHERE appointment_id = $1 AND practitioner_id = $2")
                .bind(w.appointment_id.to_string())
                .bind(w.practitioner_id.to_string())
                .execute(&self.pool)
                .await?;
        }
        Ok(done.rows_affected() == 1)
    }

    /// The write failed: due again at `due_at`, with the error kept for staff.
    pub async fn retry_calendar_write(&self, w: &CalendarWrite, due_at: DateTime<Utc>, error: &str) -> Result<()> {
        self.release_job(&CALENDAR_WRITES, &w.claim, due_at, Some(error), true).await?;
        Ok(())
    }

    /// Writes waiting for Google, per practitioner of the clinic.
    pub async fn pending_calendar_writes(&self, practitioner: PractitionerId) -> Result<i64> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM calendar_outbox WHERE practitioner_id = $1 AND done = 0")
            .bind(practitioner.to_string())
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get("n")?)
    }

    pub async fn calendar_conflicts(&self, clinic: ClinicId) -> Result<Vec<CalendarConflict>> {
        let rows = sqlx::query(
            "SELECT id, practitioner_id, appointment_id, kind, google_start, detected_at FROM calendar_conflicts \
             WHERE clinic_id = $1 AND resolved_at IS NULL ORDER BY detected_at DESC LIMIT 500",
        )
        .bind(clinic.to_string())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(CalendarConflict {
                    id: r.try_get("id")?,
                    practitioner_id: parse_id(&r.try_get::<String, _>("practitioner_id")?, PractitionerId::parse)?,
                    appointment_id: parse_id(&r.try_get::<String, _>("appointment_id")?, AppointmentId::parse)?,
                    kind: r.try_get("kind")?,
                    google_start: r.try_get::<Option<i64>, _>("google_start")?.map(from_ts).transpose()?,
                    detected_at: from_ts(r.try_get("detected_at")?)?,
                })
            })
            .collect()
    }
}
