//! Broadcasts: a clinic's announcement to a segment of its patients. The
//! recipients (one per phone and channel) are fixed in the transaction that
//! creates it, spaced per sending number by the clinic's rate; a node claims
//! a due recipient with a lease and hands it to the outbox in a transaction
//! conditional on its claim. Pausing holds the waiting recipients, resuming
//! spaces them again from now, cancelling closes them.

use super::{NewOutbound, Result, StorageError, Store, from_ts, parse_id, to_ts};
use crate::domain::*;
use chrono::{DateTime, Duration, Utc};
use sqlx::Row;
use std::collections::BTreeMap;

/// Who a broadcast goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Segment {
    /// Patients with an appointment (not cancelled) starting in `[from, to)`,
    /// optionally of one practitioner or service.
    Appointments { from: DateTime<Utc>, to: DateTime<Utc>, practitioner: Option<PractitionerId>, service: Option<ServiceId> },
    /// Patients seen (an appointment marked attended) since `since`.
    SeenSince { since: DateTime<Utc> },
}

#[derive(Debug, Clone)]
pub struct NewBroadcast<'a> {
    pub id: BroadcastId,
    pub clinic: ClinicId,
    pub name: &'a str,
    pub segment: Segment,
    /// The segment as the clinic wrote it, kept for staff.
    pub segment_json: &'a str,
    pub text_fr: &'a str,
    pub text_en: &'a str,
    pub content_sid_fr: Option<&'a str>,
    pub content_sid_en: Option<&'a str>,
    pub variables_json: &'a str,
    pub per_minute: u32,
    pub created_by: Option<&'a str>,
}

/// A broadcast as the sender and staff read it.
#[derive(Debug, Clone)]
pub struct BroadcastRecord {
    pub id: BroadcastId,
    pub clinic_id: ClinicId,
    pub name: String,
    pub segment_json: String,
    pub text_fr: String,
    pub text_en: String,
    pub content_sid_fr: Option<String>,
    pub content_sid_en: Option<String>,
    pub variables_json: String,
    pub per_minute: u32,
    pub status: String,
    pub created_at: DateTime<Utc>,
    /// Recipients by state: pending, paused, queued, skipped, cancelled;
    /// and, of those queued, by what Twilio said: sent, delivered, read, failed.
    pub progress: BTreeMap<String, i64>,
}

/// A recipient this node claimed.
#[derive(Debug, Clone)]
pub struct ClaimedRecipient {
    pub id: i64,
    pub broadcast_id: BroadcastId,
    pub clinic_id: ClinicId,
    pub phone: PhoneNumber,
    pub channel: Channel,
    pub language: Lang,
    pub patient_id: Option<PatientId>,
    pub due_at: DateTime<Utc>,
    pub locked_until: DateTime<Utc>,
    /// The lease this node holds on it.
    pub claim: super::jobs::Claim,
}

/// A broadcast's recipients waiting for their turn: a job until queued to
/// the outbox, skipped or given up on.
pub static BROADCAST_RECIPIENTS: super::jobs::Queue = super::jobs::Queue {
    name: "broadcasts",
    table: "broadcast_recipients",
    key: &[("id", super::jobs::KeyType::Int)],
    run_at: "due_at",
    lease: "locked_until",
    attempts: "attempts",
    error: "last_error",
    open: "status = 'pending'",
    sequence: None,
    join: None,
    index: Some("broadcast_recipients_due"),
    order: "broadcast_recipients.due_at, broadcast_recipients.id",
    on_claim: "",
    on_release: "",
    on_bury: ", status = 'failed', reason = 'error'",
    on_revive: ", status = 'pending', reason = NULL",
    returning: "broadcast_id, clinic_id, phone, channel, language, patient_id, due_at",
};

/// One recipient as staff see it.
#[derive(Debug, Clone)]
pub struct RecipientRecord {
    pub phone: PhoneNumber,
    pub channel: Channel,
    pub status: String,
    pub reason: Option<String>,
    pub send_status: Option<String>,
    pub delivery_status: Option<String>,
    pub error_code: Option<i64>,
}

/// What staff do to a running broadcast.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BroadcastAction {
    Pause,
    Resume,
    Cancel,
}

/// The gap between two messages of a broadcast from one number.
fn spacing(per_minute: u32) -> Duration {
    Duration::milliseconds(60_000 / i64::from(per_minute.max(1)))
}

const BROADCAST_COLUMNS: &str =
    "id, clinic_id, name, segment, text_fr, text_en, content_sid_fr, content_sid_en, variables, per_minute, status, created_at";

impl Store {
    /// Creates the broadcast and its recipients (each phone of the segment's
    /// patients once per channel: the channel and language of the phone's
    /// latest conversation, else WhatsApp when the clinic has a number there,
    /// in the clinic's language), due from `now` at the clinic's rate per
    /// sending number. Returns how many recipients.
    pub async fn create_broadcast(&self, b: &NewBroadcast<'_>, now: DateTime<Utc>) -> Result<u64> {
        let mut tx = self.begin().await?;
        let clinic = sqlx::query("SELECT whatsapp_number, default_language FROM clinics WHERE id = $1")
            .bind(b.clinic.to_string())
            .fetch_one(&mut *tx)
            .await?;
        let default_channel =
            if clinic.try_get::<Option<String>, _>("whatsapp_number")?.is_some() { Channel::WhatsApp } else { Channel::Sms };
        let default_lang: String = clinic.try_get("default_language")?;
        let (from, to, practitioner, service, status) = match b.segment {
            Segment::Appointments { from, to, practitioner, service } => (from, to, practitioner, service, ""),
            Segment::SeenSince { since } => (since, now, None, None, "attended"),
        };
        let rows = sqlx::query(
            "SELECT DISTINCT pp.phone, p.id AS patient_id, c.channel, c.language, COALESCE(c.last_inbound_at, 0) AS last_inbound \
             FROM appointments a JOIN patients p ON p.id = a.patient_id \
               JOIN patient_phones pp ON pp.patient_id = p.id AND pp.clinic_id = a.clinic_id \
               LEFT JOIN conversations c ON c.clinic_id = a.clinic_id AND c.phone = pp.phone \
             WHERE a.clinic_id = $1 AND a.starts_at >= $2 AND a.starts_at < $3 AND a.status <> 'cancelled' \
               AND ($4 = '' OR a.practitioner_id = $4) AND ($5 = '' OR a.service_id = $5) AND ($6 = '' OR a.status = $6) \
             ORDER BY 1, 2",
        )
        .bind(b.clinic.to_string())
        .bind(to_ts(from))
        .bind(to_ts(to))
        .bind(practitioner.map(|p| p.to_string()).unwrap_or_default())
        .bind(service.map(|s| s.to_string()).unwrap_or_default())
        .bind(status)
        .fetch_all(&mut *tx)
        .await?;
        // Per phone: its first patient, and the conversation it wrote in last.
        let mut phones: BTreeMap<String, (String, Option<String>, Option<String>, i64)> = BTreeMap::new();
        for row in &rows {
            let phone: String = row.try_get("phone")?;
            let patient: String = row.try_get("patient_id")?;
            let channel: Option<String> = row.try_get("channel")?;
            let language: Option<String> = row.try_get("language")?;
            let last: i64 = row.try_get("last_inbound")?;
            let entry = phones.entry(phone).or_insert_with(|| (patient.clone(), None, None, -1));
            if last > entry.3 && channel.is_some() {
                *entry = (entry.0.clone(), channel, language, last);
            }
        }
        sqlx::query(
            "INSERT INTO broadcasts (id, clinic_id, name, segment, text_fr, text_en, content_sid_fr, content_sid_en, variables, per_minute, \
               status, created_by, created_at, updated_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,'running',$11,$12,$12)",
        )
        .bind(b.id.to_string())
        .bind(b.clinic.to_string())
        .bind(b.name)
        .bind(b.segment_json)
        .bind(b.text_fr)
        .bind(b.text_en)
        .bind(b.content_sid_fr)
        .bind(b.content_sid_en)
        .bind(b.variables_json)
        .bind(b.per_minute as i64)
        .bind(b.created_by)
        .bind(to_ts(now))
        .execute(&mut *tx)
        .await?;
        let gap = spacing(b.per_minute);
        let mut next: BTreeMap<String, DateTime<Utc>> = BTreeMap::new();
        let mut count = 0;
        for (phone, (patient, channel, language, _)) in phones {
            let channel = channel.unwrap_or_else(|| default_channel.as_str().to_string());
            let due = next.entry(channel.clone()).or_insert(now);
            let done = sqlx::query(
                "INSERT INTO broadcast_recipients (broadcast_id, clinic_id, phone, channel, language, patient_id, due_at, updated_at) \
                 VALUES ($1,$2,$3,$4,$5,$6,$7,$8) ON CONFLICT (broadcast_id, phone, channel) DO NOTHING",
            )
            .bind(b.id.to_string())
            .bind(b.clinic.to_string())
            .bind(&phone)
            .bind(&channel)
            .bind(language.unwrap_or_else(|| default_lang.clone()))
            .bind(&patient)
            .bind(due.timestamp_millis().div_euclid(1000))
            .bind(to_ts(now))
            .execute(&mut *tx)
            .await?;
            count += done.rows_affected();
            *due += gap;
        }
        tx.commit().await?;
        Ok(count)
    }

    /// Leases the recipient due longest.
    pub async fn claim_broadcast_recipient(&self, now: DateTime<Utc>, lease_until: DateTime<Utc>) -> Result<Option<ClaimedRecipient>> {
        let Some((claim, row)) = self.claim_job(&BROADCAST_RECIPIENTS, now, lease_until).await? else { return Ok(None) };
        let channel: String = row.try_get("channel")?;
        let language: String = row.try_get("language")?;
        Ok(Some(ClaimedRecipient {
            id: row.try_get("id")?,
            broadcast_id: parse_id(&row.try_get::<String, _>("broadcast_id")?, BroadcastId::parse)?,
            clinic_id: parse_id(&row.try_get::<String, _>("clinic_id")?, ClinicId::parse)?,
            phone: PhoneNumber::parse(&row.try_get::<String, _>("phone")?).map_err(StorageError::Corrupt)?,
            channel: Channel::parse(&channel).ok_or_else(|| StorageError::Corrupt(format!("bad channel {channel}")))?,
            language: Lang::parse(&language).ok_or_else(|| StorageError::Corrupt(format!("bad language {language}")))?,
            patient_id: row.try_get::<Option<String>, _>("patient_id")?.map(|p| parse_id(&p, PatientId::parse)).transpose()?,
            due_at: from_ts(row.try_get("due_at")?)?,
            locked_until: from_ts(claim.lease)?,
            claim,
        }))
    }

    /// Closes a claimed recipient without sending (skipped), with the reason.
    pub async fn close_recipient(&self, r: &ClaimedRecipient, reason: &str, now: DateTime<Utc>) -> Result<()> {
        sqlx::query(
            "UPDATE broadcast_recipients SET status = 'skipped', reason = $1, updated_at = $2 \
             WHERE id = $3 AND status = 'pending' AND locked_until = $4",
        )
        .bind(reason)
        .bind(to_ts(now))
        .bind(r.id)
        .bind(to_ts(r.locked_until))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The quiet hours hold a claimed recipient: every recipient of its
    /// broadcast still waiting on that channel moves by `by`, so the rate
    /// stays what the clinic chose.
    pub async fn hold_broadcast(&self, r: &ClaimedRecipient, by: Duration, now: DateTime<Utc>) -> Result<()> {
        let mut tx = self.begin().await?;
        sqlx::query(
            "UPDATE broadcast_recipients SET due_at = due_at + $1, updated_at = $2 \
             WHERE broadcast_id = $3 AND channel = $4 AND status = 'pending'",
        )
        .bind(by.num_seconds())
        .bind(to_ts(now))
        .bind(r.broadcast_id.to_string())
        .bind(r.channel.as_str())
        .execute(&mut *tx)
        .await?;
        sqlx::query("UPDATE broadcast_recipients SET locked_until = 0 WHERE id = $1 AND locked_until = $2")
            .bind(r.id)
            .bind(to_ts(r.locked_until))
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Hands a claimed recipient to the outbox, in one transaction that holds
    /// only if the claim is still this node's and the broadcast was not
    /// paused or cancelled meanwhile. False (nothing written) otherwise.
    pub async fn queue_broadcast(
        &self,
        r: &ClaimedRecipient,
        message: &NewOutbound,
        template: Option<(&str, &str)>,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        let mut tx = self.begin().await?;
        let taken = sqlx::query(
            "UPDATE broadcast_recipients SET status = 'queued', updated_at = $1 WHERE id = $2 AND status = 'pending' AND locked_until = $3",
        )
        .bind(to_ts(now))
        .bind(r.id)
        .bind(to_ts(r.locked_until))
        .execute(&mut *tx)
        .await?;
        if taken.rows_affected() != 1 {
            tx.rollback().await?;
            return Ok(false);
        }
        let outbound = Store::insert_outbound_of_kind(&mut tx, message, "broadcast", template, now).await?;
        sqlx::query("UPDATE broadcast_recipients SET outbound_id = $1 WHERE id = $2").bind(outbound).bind(r.id).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Pauses, resumes or cancels a broadcast. `None`: no such broadcast in
    /// the clinic; `Some(false)`: not in a state the action applies to.
    pub async fn act_on_broadcast(
        &self,
        clinic: ClinicId,
        id: BroadcastId,
        action: BroadcastAction,
        now: DateTime<Utc>,
    ) -> Result<Option<bool>> {
        let mut tx = self.begin().await?;
        let Some(status) = sqlx::query_scalar::<_, String>("SELECT status FROM broadcasts WHERE id = $1 AND clinic_id = $2")
            .bind(id.to_string())
            .bind(clinic.to_string())
            .fetch_optional(&mut *tx)
            .await?
        else {
            return Ok(None);
        };
        let (from, to) = match (action, status.as_str()) {
            (BroadcastAction::Pause, "running") => ("running", "paused"),
            (BroadcastAction::Resume, "paused") => ("paused", "running"),
            (BroadcastAction::Cancel, "running" | "paused") => (status.as_str(), "cancelled"),
            _ => return Ok(Some(false)),
        };
        sqlx::query("UPDATE broadcasts SET status = $1, updated_at = $2 WHERE id = $3 AND status = $4")
            .bind(to)
            .bind(to_ts(now))
            .bind(id.to_string())
            .bind(from)
            .execute(&mut *tx)
            .await?;
        match action {
            BroadcastAction::Pause => {
                sqlx::query(
                    "UPDATE broadcast_recipients SET status = 'paused', updated_at = $1 WHERE broadcast_id = $2 AND status = 'pending'",
                )
                .bind(to_ts(now))
                .bind(id.to_string())
                .execute(&mut *tx)
                .await?;
            }
            BroadcastAction::Cancel => {
                sqlx::query(
                    "UPDATE broadcast_recipients SET status = 'cancelled', reason = 'cancelled', updated_at = $1 \
                     WHERE broadcast_id = $2 AND status IN ('pending', 'paused')",
                )
                .bind(to_ts(now))
                .bind(id.to_string())
                .execute(&mut *tx)
                .await?;
            }
            BroadcastAction::Resume => {
                // Spaced again from now, per sending number, in their order.
                let per_minute: i64 =
                    sqlx::query_scalar("SELECT per_minute FROM broadcasts WHERE id = $1").bind(id.to_string()).fetch_one(&mut *tx).await?;
                let gap = spacing(per_minute as u32);
                let waiting = sqlx::query(
                    "SELECT id, channel FROM broadcast_recipients WHERE broadcast_id = $1 AND status = 'paused' ORDER BY due_at, id",
                )
                .bind(id.to_string())
                .fetch_all(&mut *tx)
                .await?;
                let mut next: BTreeMap<String, DateTime<Utc>> = BTreeMap::new();
                for row in waiting {
                    let channel: String = row.try_get("channel")?;
                    let due = next.entry(channel).or_insert(now);
                    sqlx::query(
                        "UPDATE broadcast_recipients SET status = 'pending', due_at = $1, locked_until = 0, updated_at = $2 WHERE id = $3",
                    )
                    .bind(due.timestamp_millis().div_euclid(1000))
                    .bind(to_ts(now))
                    .bind(row.try_get::<i64, _>("id")?)
                    .execute(&mut *tx)
                    .await?;
                    *due += gap;
                }
            }
        }
        tx.commit().await?;
        Ok(Some(true))
    }

    /// One broadcast with its progress.
    pub async fn broadcast(&self, clinic: ClinicId, id: BroadcastId) -> Result<Option<BroadcastRecord>> {
        let sql = format!("SELECT {BROADCAST_COLUMNS} FROM broadcasts WHERE id = $1 AND clinic_id = $2");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id.to_string()).bind(clinic.to_string()).fetch_optional(&self.pool).await?;
        let Some(row) = row else { return Ok(None) };
        let mut record = broadcast_from_row(&row)?;
        record.progress = self.broadcast_progress(id).await?;
        Ok(Some(record))
    }

    /// The clinic's broadcasts, newest first (100 at most), with their progress.
    pub async fn broadcasts(&self, clinic: ClinicId) -> Result<Vec<BroadcastRecord>> {
        let sql = format!("SELECT {BROADCAST_COLUMNS} FROM broadcasts WHERE clinic_id = $1 ORDER BY created_at DESC, id LIMIT 100");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(clinic.to_string()).fetch_all(&self.pool).await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            let mut record = broadcast_from_row(row)?;
            record.progress = self.broadcast_progress(record.id).await?;
            out.push(record);
        }
        Ok(out)
    }

    async fn broadcast_progress(&self, id: BroadcastId) -> Result<BTreeMap<String, i64>> {
        let rows = sqlx::query(
            "SELECT r.status, o.status AS send_status, o.delivery_status, COUNT(*) AS n \
             FROM broadcast_recipients r LEFT JOIN outbound_messages o ON o.id = r.outbound_id \
             WHERE r.broadcast_id = $1 GROUP BY r.status, o.status, o.delivery_status",
        )
        .bind(id.to_string())
        .fetch_all(&self.pool)
        .await?;
        let mut progress: BTreeMap<String, i64> =
            ["pending", "paused", "queued", "skipped", "cancelled", "sent", "delivered", "read", "failed"]
                .iter()
                .map(|k| (k.to_string(), 0))
                .collect();
        for row in rows {
            let n: i64 = row.try_get("n")?;
            let status: String = row.try_get("status")?;
            *progress.entry(status).or_default() += n;
            let send: Option<String> = row.try_get("send_status")?;
            let delivery: Option<String> = row.try_get("delivery_status")?;
            let outcome = match (send.as_deref(), delivery.as_deref()) {
                (_, Some("failed" | "undelivered")) | (Some("failed" | "unknown"), _) => Some("failed"),
                (_, Some("read")) => Some("read"),
                (_, Some("delivered")) => Some("delivered"),
                (Some("sent"), _) => Some("sent"),
                _ => None,
            };
            if let Some(o) = outcome {
                *progress.entry(o.to_string()).or_default() += n;
            }
        }
        Ok(progress)
    }

    /// A broadcast's recipients in order, with what became of each message.
    pub async fn broadcast_recipients(&self, clinic: ClinicId, id: BroadcastId) -> Result<Vec<RecipientRecord>> {
        let rows = sqlx::query(
            "SELECT r.phone, r.channel, r.status, r.reason, o.status AS send_status, o.delivery_status, o.delivery_error_code \
             FROM broadcast_recipients r LEFT JOIN outbound_messages o ON o.id = r.outbound_id \
             WHERE r.broadcast_id = $1 AND r.clinic_id = $2 ORDER BY r.id LIMIT 10000",
        )
        .bind(id.to_string())
        .bind(clinic.to_string())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let channel: String = row.try_get("channel")?;
                Ok(RecipientRecord {
                    phone: PhoneNumber::parse(&row.try_get::<String, _>("phone")?).map_err(StorageError::Corrupt)?,
                    channel: Channel::parse(&channel).ok_or_else(|| StorageError::Corrupt(format!("bad channel {channel}")))?,
                    status: row.try_get("status")?,
                    reason: row.try_get("reason")?,
                    send_status: row.try_get("send_status")?,
                    delivery_status: row.try_get("delivery_status")?,
                    error_code: row.try_get("delivery_error_code")?,
                })
            })
            .collect()
    }
}

fn broadcast_from_row(row: &sqlx::any::AnyRow) -> Result<BroadcastRecord> {
    Ok(BroadcastRecord {
        id: parse_id(&row.try_get::<String, _>("id")?, BroadcastId::parse)?,
        clinic_id: parse_id(&row.try_get::<String, _>("clinic_id")?, ClinicId::parse)?,
        name: row.try_get("name")?,
        segment_json: row.try_get("segment")?,
        text_fr: row.try_get("text_fr")?,
        text_en: row.try_get("text_en")?,
        content_sid_fr: row.try_get("content_sid_fr")?,
        content_sid_en: row.try_get("content_sid_en")?,
        variables_json: row.try_get("variables")?,
        per_minute: row.try_get::<i64, _>("per_minute")? as u32,
        status: row.try_get("status")?,
        created_at: from_ts(row.try_get("created_at")?)?,
        progress: BTreeMap::new(),
    })
}
