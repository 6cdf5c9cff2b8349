//! Reminders and what messages Nuru starts depend on: each clinic's reminder
//! settings, its approved WhatsApp templates, and each phone's consent.
//!
//! A reminder is a row, never a timer: [`Store::schedule_reminders`] runs
//! inside the transaction that books or moves an appointment (and
//! [`Store::cancel_reminders`] inside the one that cancels it), so a moved
//! appointment is reminded at its new time and a cancelled one never. Rows
//! are unique per appointment, lead time and appointment time; a node claims
//! one with a lease and hands it to the outbox in one transaction that is
//! conditional on its claim, so each reminder is queued once across
//! restarts and nodes (the outbox never sends a message twice).

use super::{Result, StorageError, Store, from_ts, parse_id, to_ts};
use crate::domain::*;
use chrono::{DateTime, Utc};
use sqlx::AnyConnection;
use sqlx::Row;

/// A clinic's reminder settings (the defaults when it never set them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReminderSettings {
    pub enabled: bool,
    /// Minutes before the appointment, largest first.
    pub offsets: Vec<u32>,
    /// Minutes after local midnight.
    pub quiet_start: u16,
    pub quiet_end: u16,
}

impl Default for ReminderSettings {
    fn default() -> Self {
        ReminderSettings { enabled: true, offsets: vec![24 * 60, 2 * 60], quiet_start: 21 * 60, quiet_end: 7 * 60 }
    }
}

/// A reminder this node claimed (its lease ends at `locked_until`).
#[derive(Debug, Clone)]
pub struct ClaimedReminder {
    pub id: i64,
    pub clinic_id: ClinicId,
    pub appointment_id: AppointmentId,
    pub offset_minutes: u32,
    pub due_at: DateTime<Utc>,
    /// The appointment's time when the reminder was scheduled.
    pub appointment_starts_at: DateTime<Utc>,
    pub locked_until: DateTime<Utc>,
    /// The lease this node holds on it.
    pub claim: super::jobs::Claim,
}

/// Reminders waiting for their time: a job until queued to the outbox,
/// closed (skipped, cancelled) or given up on.
pub static REMINDERS: super::jobs::Queue = super::jobs::Queue {
    name: "reminders",
    table: "reminders",
    key: &[("id", super::jobs::KeyType::Int)],
    run_at: "due_at",
    lease: "locked_until",
    attempts: "attempts",
    error: "last_error",
    open: "status = 'scheduled'",
    sequence: None,
    join: None,
    index: Some("reminders_due"),
    order: "reminders.due_at, reminders.id",
    on_claim: "",
    on_release: "",
    on_bury: ", status = 'failed', reason = 'error'",
    on_revive: ", status = 'scheduled', reason = NULL",
    returning: "clinic_id, appointment_id, offset_minutes, due_at, appointment_starts_at",
};

/// What a reminder says and where it goes: the appointment as it stands,
/// the names it mentions, and the patient's conversation — the one the
/// appointment was booked in if that phone is still the patient's, else
/// the patient's phone that wrote last — or, if the patient never wrote,
/// their first phone.
#[derive(Debug, Clone)]
pub struct ReminderTarget {
    pub status: AppointmentStatus,
    pub starts_at: DateTime<Utc>,
    pub patient_first_name: String,
    pub practitioner: String,
    pub service_fr: String,
    pub service_en: String,
    pub clinic_name: String,
    pub timezone: chrono_tz::Tz,
    pub default_language: Lang,
    pub whatsapp_number: Option<String>,
    pub sms_number: Option<String>,
    pub conversation: Option<TargetConversation>,
    pub first_phone: Option<PhoneNumber>,
}

/// The patient's conversation a reminder is sent in.
#[derive(Debug, Clone)]
pub struct TargetConversation {
    pub id: ConversationId,
    pub channel: Channel,
    pub phone: PhoneNumber,
    pub language: Lang,
    pub last_inbound_at: Option<DateTime<Utc>>,
}

/// An opt-out or opt-in to record.
#[derive(Debug, Clone, Copy)]
pub struct ConsentChange<'a> {
    pub clinic: ClinicId,
    pub phone: &'a PhoneNumber,
    pub channel: Channel,
    pub opted_out: bool,
    /// keyword | staff | twilio
    pub source: &'a str,
    /// The staff member, if any.
    pub changed_by: Option<&'a str>,
}

/// A stored template: its Content SID and variable names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredTemplate {
    pub kind: String,
    pub language: Lang,
    pub content_sid: String,
    pub variables: Vec<String>,
    pub updated_at: DateTime<Utc>,
}

/// Whether a phone accepts the messages a clinic starts on a channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Consent {
    pub phone: PhoneNumber,
    pub channel: Channel,
    pub opted_out: bool,
    pub source: String,
    pub changed_at: DateTime<Utc>,
}

/// A reminder as staff see it.
#[derive(Debug, Clone)]
pub struct ReminderRecord {
    pub id: i64,
    pub appointment_id: AppointmentId,
    pub offset_minutes: u32,
    pub due_at: DateTime<Utc>,
    pub status: String,
    pub reason: Option<String>,
    pub reply: Option<String>,
    /// The outbox's status of the message, and Twilio's delivery status and error code.
    pub send_status: Option<String>,
    pub delivery_status: Option<String>,
    pub error_code: Option<i64>,
}

/// Counts over the reminders due in a period and the appointments of that period.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReminderStats {
    pub scheduled: i64,
    pub sent: i64,
    pub skipped: i64,
    pub failed: i64,
    pub confirmed: i64,
    pub cancelled_from_reminder: i64,
    pub moved_from_reminder: i64,
    /// Appointments marked attended or no-show, with a reminder sent / without.
    pub attended_with_reminder: i64,
    pub no_show_with_reminder: i64,
    pub attended_without_reminder: i64,
    pub no_show_without_reminder: i64,
}

fn offsets_from_json(s: &str) -> Result<Vec<u32>> {
    serde_json::from_str(s).map_err(|e| StorageError::Corrupt(format!("reminder offsets: {e}")))
}

impl Store {
    /// Inside the transaction that books or moves `appointment`: replaces its
    /// waiting reminders by one per lead time of the clinic's settings, for
    /// its current time; lead times already past are not scheduled (an
    /// appointment booked 3 hours ahead gets the 2-hour reminder only).
    pub async fn schedule_reminders(conn: &mut AnyConnection, appointment: AppointmentId, now: DateTime<Utc>) -> Result<()> {
        sqlx::query(
            "UPDATE reminders SET status = 'cancelled', reason = 'moved', updated_at = $1 WHERE appointment_id = $2 AND status = 'scheduled'",
        )
        .bind(to_ts(now))
        .bind(appointment.to_string())
        .execute(&mut *conn)
        .await?;
        let row = sqlx::query(
            "SELECT a.clinic_id, a.starts_at, a.status, c.timezone, s.enabled, s.offsets FROM appointments a \
             JOIN clinics c ON c.id = a.clinic_id LEFT JOIN reminder_settings s ON s.clinic_id = a.clinic_id WHERE a.id = $1",
        )
        .bind(appointment.to_string())
        .fetch_one(&mut *conn)
        .await?;
        let status: String = row.try_get("status")?;
        let enabled = row.try_get::<Option<i64>, _>("enabled")?.unwrap_or(1) != 0;
        if status != "booked" || !enabled {
            return Ok(());
        }
        let offsets = match row.try_get::<Option<String>, _>("offsets")? {
            Some(json) => offsets_from_json(&json)?,
            None => ReminderSettings::default().offsets,
        };
        let clinic: String = row.try_get("clinic_id")?;
        let starts_at: i64 = row.try_get("starts_at")?;
        let tz: String = row.try_get("timezone")?;
        let tz: chrono_tz::Tz = tz.parse().map_err(|_| StorageError::Corrupt(format!("bad time zone {tz}")))?;
        for offset in offsets {
            let due = to_ts(reminder_due(from_ts(starts_at)?, offset, tz));
            if due <= to_ts(now) {
                continue;
            }
            sqlx::query(
                "INSERT INTO reminders (clinic_id, appointment_id, offset_minutes, appointment_starts_at, due_at, created_at, updated_at) \
                 VALUES ($1,$2,$3,$4,$5,$6,$6) ON CONFLICT (appointment_id, offset_minutes, appointment_starts_at) DO NOTHING",
            )
            .bind(&clinic)
            .bind(appointment.to_string())
            .bind(offset as i64)
            .bind(starts_at)
            .bind(due)
            .bind(to_ts(now))
            .execute(&mut *conn)
            .await?;
        }
        Ok(())
    }

    /// Inside the transaction that cancels (or closes) `appointment`: its
    /// waiting reminders will never be sent.
    pub async fn cancel_reminders(conn: &mut AnyConnection, appointment: AppointmentId, reason: &str, now: DateTime<Utc>) -> Result<()> {
        sqlx::query(
            "UPDATE reminders SET status = 'cancelled', reason = $1, updated_at = $2 WHERE appointment_id = $3 AND status = 'scheduled'",
        )
        .bind(reason)
        .bind(to_ts(now))
        .bind(appointment.to_string())
        .execute(&mut *conn)
        .await?;
        Ok(())
    }

    /// Leases the reminder due longest (on PostgreSQL skipping those another
    /// node is claiming). A lease that ran out (a node died) is claimed again.
    pub async fn claim_reminder(&self, now: DateTime<Utc>, lease_until: DateTime<Utc>) -> Result<Option<ClaimedReminder>> {
        let Some((claim, row)) = self.claim_job(&REMINDERS, now, lease_until).await? else { return Ok(None) };
        Ok(Some(ClaimedReminder {
            id: row.try_get("id")?,
            clinic_id: parse_id(&row.try_get::<String, _>("clinic_id")?, ClinicId::parse)?,
            appointment_id: parse_id(&row.try_get::<String, _>("appointment_id")?, AppointmentId::parse)?,
            offset_minutes: row.try_get::<i64, _>("offset_minutes")? as u32,
            due_at: from_ts(row.try_get("due_at")?)?,
            appointment_starts_at: from_ts(row.try_get("appointment_starts_at")?)?,
            locked_until: from_ts(claim.lease)?,
            claim,
        }))
    }

    /// Puts a claimed reminder back until `at` (the end of the quiet hours).
    pub async fn defer_reminder(&self, r: &ClaimedReminder, at: DateTime<Utc>, now: DateTime<Utc>) -> Result<()> {
        sqlx::query(
            "UPDATE reminders SET due_at = $1, locked_until = 0, updated_at = $2 WHERE id = $3 AND status = 'scheduled' AND locked_until = $4",
        )
        .bind(to_ts(at))
        .bind(to_ts(now))
        .bind(r.id)
        .bind(to_ts(r.locked_until))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Closes a claimed reminder without sending it (`status` skipped,
    /// cancelled or failed), with the reason staff see.
    pub async fn close_reminder(&self, r: &ClaimedReminder, status: &str, reason: &str, now: DateTime<Utc>) -> Result<()> {
        sqlx::query(
            "UPDATE reminders SET status = $1, reason = $2, updated_at = $3 WHERE id = $4 AND status = 'scheduled' AND locked_until = $5",
        )
        .bind(status)
        .bind(reason)
        .bind(to_ts(now))
        .bind(r.id)
        .bind(to_ts(r.locked_until))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Hands a claimed reminder to the outbox, in one transaction that holds
    /// only if the claim is still this node's: the message queued, the
    /// reminder marked queued with it, and the conversation told that its
    /// next message may answer it. False (nothing written) when the claim
    /// was lost.
    pub async fn queue_reminder(
        &self,
        r: &ClaimedReminder,
        message: &super::NewOutbound,
        kind: &str,
        template: Option<(&str, &str)>,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        let mut tx = self.begin().await?;
        let taken = sqlx::query(
            "UPDATE reminders SET status = 'queued', updated_at = $1 WHERE id = $2 AND status = 'scheduled' AND locked_until = $3",
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
        let outbound = Store::insert_outbound_of_kind(&mut tx, message, kind, template, now).await?;
        sqlx::query("UPDATE reminders SET outbound_id = $1 WHERE id = $2").bind(outbound).bind(r.id).execute(&mut *tx).await?;
        sqlx::query("UPDATE conversations SET awaiting_reminder = $1, awaiting_feedback = NULL WHERE id = $2")
            .bind(r.id)
            .bind(message.conversation_id.to_string())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// The appointment a reminder is about, if it is still the clinic's.
    pub async fn reminder_appointment(&self, reminder: i64) -> Result<Option<(AppointmentId, DateTime<Utc>)>> {
        let row = sqlx::query("SELECT appointment_id, appointment_starts_at FROM reminders WHERE id = $1")
            .bind(reminder)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|row| {
            Ok((
                parse_id(&row.try_get::<String, _>("appointment_id")?, AppointmentId::parse)?,
                from_ts(row.try_get("appointment_starts_at")?)?,
            ))
        })
        .transpose()
    }

    /// Inside the turn's transaction: the conversation's next message was
    /// read (as an answer to the reminder or not); a reminder queued since is kept.
    pub async fn clear_awaiting_reminder(conn: &mut AnyConnection, conversation: ConversationId, reminder: i64) -> Result<()> {
        sqlx::query("UPDATE conversations SET awaiting_reminder = NULL WHERE id = $1 AND awaiting_reminder = $2")
            .bind(conversation.to_string())
            .bind(reminder)
            .execute(&mut *conn)
            .await?;
        Ok(())
    }

    /// Inside the turn's transaction: what the patient did from the last
    /// reminder sent for `appointment` (confirmed, cancelled, moved).
    pub async fn note_reminder_reply(conn: &mut AnyConnection, appointment: AppointmentId, reply: &str, now: DateTime<Utc>) -> Result<()> {
        sqlx::query(
            "UPDATE reminders SET reply = $1, updated_at = $2 \
             WHERE id = (SELECT MAX(id) FROM reminders WHERE appointment_id = $3 AND status = 'queued')",
        )
        .bind(reply)
        .bind(to_ts(now))
        .bind(appointment.to_string())
        .execute(&mut *conn)
        .await?;
        Ok(())
    }

    /// Inside a transaction: the patient said they will come.
    pub async fn confirm_attendance(
        conn: &mut AnyConnection,
        clinic: ClinicId,
        appointment: AppointmentId,
        via: &str,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE appointments SET attendance_confirmed_at = $1, attendance_confirmed_via = $2, updated_at = $1 \
             WHERE id = $3 AND clinic_id = $4 AND status = 'booked'",
        )
        .bind(to_ts(now))
        .bind(via)
        .bind(appointment.to_string())
        .bind(clinic.to_string())
        .execute(&mut *conn)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// When (and how) the patient confirmed they will come, if they did.
    pub async fn attendance_confirmation(&self, appointment: AppointmentId) -> Result<Option<(DateTime<Utc>, String)>> {
        let row = sqlx::query("SELECT attendance_confirmed_at, attendance_confirmed_via FROM appointments WHERE id = $1")
            .bind(appointment.to_string())
            .fetch_optional(&self.pool)
            .await?;
        let Some(row) = row else { return Ok(None) };
        match (row.try_get::<Option<i64>, _>("attendance_confirmed_at")?, row.try_get::<Option<String>, _>("attendance_confirmed_via")?) {
            (Some(at), Some(via)) => Ok(Some((from_ts(at)?, via))),
            _ => Ok(None),
        }
    }

    /// The appointment's patient and where a reminder reaches them.
    pub async fn reminder_target(&self, clinic: ClinicId, appointment: AppointmentId) -> Result<Option<ReminderTarget>> {
        let Some(row) = sqlx::query(
            "SELECT a.status, a.starts_at, a.conversation_id, p.id AS patient_id, p.first_name, \
                    pr.title, pr.first_name AS pr_first, pr.last_name AS pr_last, s.name_fr, s.name_en, \
                    c.name AS clinic_name, c.timezone, c.default_language, c.whatsapp_number, c.sms_number \
             FROM appointments a JOIN patients p ON p.id = a.patient_id JOIN practitioners pr ON pr.id = a.practitioner_id \
               JOIN services s ON s.id = a.service_id JOIN clinics c ON c.id = a.clinic_id \
             WHERE a.id = $1 AND a.clinic_id = $2",
        )
        .bind(appointment.to_string())
        .bind(clinic.to_string())
        .fetch_optional(&self.pool)
        .await?
        else {
            return Ok(None);
        };
        let status: String = row.try_get("status")?;
        let tz: String = row.try_get("timezone")?;
        let default_language: String = row.try_get("default_language")?;
        let patient: String = row.try_get("patient_id")?;
        let booked_in: Option<String> = row.try_get("conversation_id")?;
        let practitioner = [row.try_get::<String, _>("title")?, row.try_get("pr_first")?, row.try_get("pr_last")?]
            .into_iter()
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join(" ");
        let conversation = sqlx::query(
            "SELECT c.id, c.channel, c.phone, c.language, c.last_inbound_at FROM conversations c \
             JOIN patient_phones pp ON pp.phone = c.phone AND pp.clinic_id = c.clinic_id AND pp.patient_id = $1 \
             WHERE c.clinic_id = $2 ORDER BY CASE WHEN c.id = $3 THEN 0 ELSE 1 END, COALESCE(c.last_inbound_at, 0) DESC LIMIT 1",
        )
        .bind(&patient)
        .bind(clinic.to_string())
        .bind(booked_in.unwrap_or_default())
        .fetch_optional(&self.pool)
        .await?;
        let conversation = match conversation {
            Some(c) => {
                let channel: String = c.try_get("channel")?;
                let lang: String = c.try_get("language")?;
                Some(TargetConversation {
                    id: parse_id(&c.try_get::<String, _>("id")?, ConversationId::parse)?,
                    channel: Channel::parse(&channel).ok_or_else(|| StorageError::Corrupt(format!("bad channel {channel}")))?,
                    phone: PhoneNumber::parse(&c.try_get::<String, _>("phone")?).map_err(StorageError::Corrupt)?,
                    language: Lang::parse(&lang).ok_or_else(|| StorageError::Corrupt(format!("bad language {lang}")))?,
                    last_inbound_at: c.try_get::<Option<i64>, _>("last_inbound_at")?.map(from_ts).transpose()?,
                })
            }
            None => None,
        };
        let first_phone = sqlx::query("SELECT phone FROM patient_phones WHERE patient_id = $1 ORDER BY created_at, phone LIMIT 1")
            .bind(&patient)
            .fetch_optional(&self.pool)
            .await?
            .map(|r| r.try_get::<String, _>("phone"))
            .transpose()?
            .map(|p| PhoneNumber::parse(&p).map_err(StorageError::Corrupt))
            .transpose()?;
        Ok(Some(ReminderTarget {
            status: AppointmentStatus::parse(&status).ok_or_else(|| StorageError::Corrupt(format!("bad status {status}")))?,
            starts_at: from_ts(row.try_get("starts_at")?)?,
            patient_first_name: row.try_get("first_name")?,
            practitioner,
            service_fr: row.try_get("name_fr")?,
            service_en: row.try_get("name_en")?,
            clinic_name: row.try_get("clinic_name")?,
            timezone: tz.parse().map_err(|_| StorageError::Corrupt(format!("bad time zone {tz}")))?,
            default_language: Lang::parse(&default_language)
                .ok_or_else(|| StorageError::Corrupt(format!("bad language {default_language}")))?,
            whatsapp_number: row.try_get("whatsapp_number")?,
            sms_number: row.try_get("sms_number")?,
            conversation,
            first_phone,
        }))
    }

    pub async fn reminder_settings(&self, clinic: ClinicId) -> Result<ReminderSettings> {
        let row = sqlx::query("SELECT enabled, offsets, quiet_start, quiet_end FROM reminder_settings WHERE clinic_id = $1")
            .bind(clinic.to_string())
            .fetch_optional(&self.pool)
            .await?;
        let Some(row) = row else { return Ok(ReminderSettings::default()) };
        Ok(ReminderSettings {
            enabled: row.try_get::<i64, _>("enabled")? != 0,
            offsets: offsets_from_json(&row.try_get::<String, _>("offsets")?)?,
            quiet_start: row.try_get::<i64, _>("quiet_start")? as u16,
            quiet_end: row.try_get::<i64, _>("quiet_end")? as u16,
        })
    }

    /// Stores the settings and schedules the clinic's upcoming appointments
    /// again with them (reminders already queued stay queued).
    pub async fn set_reminder_settings(&self, clinic: ClinicId, s: &ReminderSettings, now: DateTime<Utc>) -> Result<()> {
        let mut tx = self.begin().await?;
        let offsets = serde_json::to_string(&s.offsets).expect("numbers serialise");
        sqlx::query(
            "INSERT INTO reminder_settings (clinic_id, enabled, offsets, quiet_start, quiet_end, updated_at) VALUES ($1,$2,$3,$4,$5,$6) \
             ON CONFLICT (clinic_id) DO UPDATE SET enabled = excluded.enabled, offsets = excluded.offsets, \
               quiet_start = excluded.quiet_start, quiet_end = excluded.quiet_end, updated_at = excluded.updated_at",
        )
        .bind(clinic.to_string())
        .bind(s.enabled as i32)
        .bind(offsets)
        .bind(s.quiet_start as i32)
        .bind(s.quiet_end as i32)
        .bind(to_ts(now))
        .execute(&mut *tx)
        .await?;
        let upcoming: Vec<String> =
            sqlx::query_scalar("SELECT id FROM appointments WHERE clinic_id = $1 AND status = 'booked' AND starts_at > $2")
                .bind(clinic.to_string())
                .bind(to_ts(now))
                .fetch_all(&mut *tx)
                .await?;
        for id in upcoming {
            let id = parse_id(&id, AppointmentId::parse)?;
            if s.enabled {
                Store::schedule_reminders(&mut tx, id, now).await?;
            } else {
                Store::cancel_reminders(&mut tx, id, "disabled", now).await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }

    pub async fn templates(&self, clinic: ClinicId) -> Result<Vec<StoredTemplate>> {
        let rows = sqlx::query(
            "SELECT kind, language, content_sid, variables, updated_at FROM message_templates WHERE clinic_id = $1 ORDER BY kind, language",
        )
        .bind(clinic.to_string())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let lang: String = row.try_get("language")?;
                Ok(StoredTemplate {
                    kind: row.try_get("kind")?,
                    language: Lang::parse(&lang).ok_or_else(|| StorageError::Corrupt(format!("bad language {lang}")))?,
                    content_sid: row.try_get("content_sid")?,
                    variables: serde_json::from_str(&row.try_get::<String, _>("variables")?)
                        .map_err(|e| StorageError::Corrupt(format!("template variables: {e}")))?,
                    updated_at: from_ts(row.try_get("updated_at")?)?,
                })
            })
            .collect()
    }

    pub async fn template(&self, clinic: ClinicId, kind: &str, language: Lang) -> Result<Option<StoredTemplate>> {
        Ok(self.templates(clinic).await?.into_iter().find(|t| t.kind == kind && t.language == language))
    }

    pub async fn set_template(&self, clinic: ClinicId, t: &StoredTemplate) -> Result<()> {
        sqlx::query(
            "INSERT INTO message_templates (clinic_id, kind, language, content_sid, variables, updated_at) VALUES ($1,$2,$3,$4,$5,$6) \
             ON CONFLICT (clinic_id, kind, language) DO UPDATE SET content_sid = excluded.content_sid, \
               variables = excluded.variables, updated_at = excluded.updated_at",
        )
        .bind(clinic.to_string())
        .bind(&t.kind)
        .bind(t.language.as_str())
        .bind(&t.content_sid)
        .bind(serde_json::to_string(&t.variables).expect("strings serialise"))
        .bind(to_ts(t.updated_at))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn delete_template(&self, clinic: ClinicId, kind: &str, language: Lang) -> Result<bool> {
        let done = sqlx::query("DELETE FROM message_templates WHERE clinic_id = $1 AND kind = $2 AND language = $3")
            .bind(clinic.to_string())
            .bind(kind)
            .bind(language.as_str())
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// The phone's consent on the channel; `None` when it never wrote nor was set.
    pub async fn consent(&self, clinic: ClinicId, phone: &PhoneNumber, channel: Channel) -> Result<Option<Consent>> {
        let row =
            sqlx::query("SELECT opted_out, source, changed_at FROM contact_consents WHERE clinic_id = $1 AND phone = $2 AND channel = $3")
                .bind(clinic.to_string())
                .bind(phone.as_str())
                .bind(channel.as_str())
                .fetch_optional(&self.pool)
                .await?;
        row.map(|row| {
            Ok(Consent {
                phone: phone.clone(),
                channel,
                opted_out: row.try_get::<i64, _>("opted_out")? != 0,
                source: row.try_get("source")?,
                changed_at: from_ts(row.try_get("changed_at")?)?,
            })
        })
        .transpose()
    }

    /// Every consent recorded for a phone, all channels.
    pub async fn consents(&self, clinic: ClinicId, phone: &PhoneNumber) -> Result<Vec<Consent>> {
        let mut all = Vec::new();
        for channel in [Channel::WhatsApp, Channel::Sms] {
            all.extend(self.consent(clinic, phone, channel).await?);
        }
        Ok(all)
    }

    /// Records an opt-out or opt-in. False when the phone was already in
    /// that state (nothing changed).
    pub async fn set_consent(conn: &mut AnyConnection, c: ConsentChange<'_>, now: DateTime<Utc>) -> Result<bool> {
        let done = sqlx::query(
            "INSERT INTO contact_consents (clinic_id, phone, channel, opted_out, source, changed_at, changed_by) VALUES ($1,$2,$3,$4,$5,$6,$7) \
             ON CONFLICT (clinic_id, phone, channel) DO UPDATE SET opted_out = excluded.opted_out, source = excluded.source, \
               changed_at = excluded.changed_at, changed_by = excluded.changed_by \
             WHERE contact_consents.opted_out <> excluded.opted_out",
        )
        .bind(c.clinic.to_string())
        .bind(c.phone.as_str())
        .bind(c.channel.as_str())
        .bind(c.opted_out as i32)
        .bind(c.source)
        .bind(to_ts(now))
        .bind(c.changed_by)
        .execute(&mut *conn)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Outside a transaction: [`Store::set_consent`].
    pub async fn set_consent_now(&self, c: ConsentChange<'_>, now: DateTime<Utc>) -> Result<bool> {
        let mut conn = self.pool.acquire().await?;
        Store::set_consent(&mut conn, c, now).await
    }

    /// Inside the turn's transaction, on a phone's first message: its opt-in,
    /// recorded with the source (a state already recorded is kept).
    pub async fn note_first_contact(
        conn: &mut AnyConnection,
        clinic: ClinicId,
        phone: &PhoneNumber,
        channel: Channel,
        source: &str,
        now: DateTime<Utc>,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO contact_consents (clinic_id, phone, channel, opted_out, source, changed_at) VALUES ($1,$2,$3,0,$4,$5) \
             ON CONFLICT (clinic_id, phone, channel) DO NOTHING",
        )
        .bind(clinic.to_string())
        .bind(phone.as_str())
        .bind(channel.as_str())
        .bind(source)
        .bind(to_ts(now))
        .execute(&mut *conn)
        .await?;
        Ok(())
    }

    /// The clinic's reminders due in `[from, to)`, newest first, optionally of one status.
    pub async fn reminders(
        &self,
        clinic: ClinicId,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        status: Option<&str>,
        failed_only: bool,
    ) -> Result<Vec<ReminderRecord>> {
        let rows = sqlx::query(
            "SELECT r.id, r.appointment_id, r.offset_minutes, r.due_at, r.status, r.reason, r.reply, \
                    o.status AS send_status, o.delivery_status, o.delivery_error_code \
             FROM reminders r LEFT JOIN outbound_messages o ON o.id = r.outbound_id \
             WHERE r.clinic_id = $1 AND r.due_at >= $2 AND r.due_at < $3 AND ($4 = '' OR r.status = $4) \
               AND ($5 = 0 OR r.status = 'failed' OR o.status IN ('failed', 'unknown') OR o.delivery_status IN ('failed', 'undelivered')) \
             ORDER BY r.due_at DESC, r.id DESC LIMIT 500",
        )
        .bind(clinic.to_string())
        .bind(to_ts(from))
        .bind(to_ts(to))
        .bind(status.unwrap_or(""))
        .bind(failed_only as i32)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(ReminderRecord {
                    id: row.try_get("id")?,
                    appointment_id: parse_id(&row.try_get::<String, _>("appointment_id")?, AppointmentId::parse)?,
                    offset_minutes: row.try_get::<i64, _>("offset_minutes")? as u32,
                    due_at: from_ts(row.try_get("due_at")?)?,
                    status: row.try_get("status")?,
                    reason: row.try_get("reason")?,
                    reply: row.try_get("reply")?,
                    send_status: row.try_get("send_status")?,
                    delivery_status: row.try_get("delivery_status")?,
                    error_code: row.try_get("delivery_error_code")?,
                })
            })
            .collect()
    }

    /// Reminder counts for reminders due in `[from, to)`, and the no-show
    /// rate of that period's appointments with and without a reminder sent.
    pub async fn reminder_stats(&self, clinic: ClinicId, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<ReminderStats> {
        let row = sqlx::query(
            "SELECT \
               COALESCE(SUM(CASE WHEN r.status = 'scheduled' THEN 1 ELSE 0 END), 0) AS scheduled, \
               COALESCE(SUM(CASE WHEN r.status = 'queued' AND o.status = 'sent' THEN 1 ELSE 0 END), 0) AS sent, \
               COALESCE(SUM(CASE WHEN r.status = 'skipped' THEN 1 ELSE 0 END), 0) AS skipped, \
               COALESCE(SUM(CASE WHEN r.status = 'failed' OR o.status IN ('failed', 'unknown') \
                                  OR o.delivery_status IN ('failed', 'undelivered') THEN 1 ELSE 0 END), 0) AS failed, \
               COALESCE(SUM(CASE WHEN r.reply = 'confirmed' THEN 1 ELSE 0 END), 0) AS confirmed, \
               COALESCE(SUM(CASE WHEN r.reply = 'cancelled' THEN 1 ELSE 0 END), 0) AS cancelled, \
               COALESCE(SUM(CASE WHEN r.reply = 'moved' THEN 1 ELSE 0 END), 0) AS moved \
             FROM reminders r LEFT JOIN outbound_messages o ON o.id = r.outbound_id \
             WHERE r.clinic_id = $1 AND r.due_at >= $2 AND r.due_at < $3",
        )
        .bind(clinic.to_string())
        .bind(to_ts(from))
        .bind(to_ts(to))
        .fetch_one(&self.pool)
        .await?;
        let mut stats = ReminderStats {
            scheduled: row.try_get("scheduled")?,
            sent: row.try_get("sent")?,
            skipped: row.try_get("skipped")?,
            failed: row.try_get("failed")?,
            confirmed: row.try_get("confirmed")?,
            cancelled_from_reminder: row.try_get("cancelled")?,
            moved_from_reminder: row.try_get("moved")?,
            ..ReminderStats::default()
        };
        let rows = sqlx::query(
            "SELECT a.status, CASE WHEN EXISTS (SELECT 1 FROM reminders r JOIN outbound_messages o ON o.id = r.outbound_id \
                 WHERE r.appointment_id = a.id AND o.status = 'sent') THEN 1 ELSE 0 END AS reminded, COUNT(*) AS n \
             FROM appointments a WHERE a.clinic_id = $1 AND a.starts_at >= $2 AND a.starts_at < $3 \
               AND a.status IN ('attended', 'no_show') GROUP BY 1, 2",
        )
        .bind(clinic.to_string())
        .bind(to_ts(from))
        .bind(to_ts(to))
        .fetch_all(&self.pool)
        .await?;
        for row in rows {
            let status: String = row.try_get("status")?;
            let reminded = row.try_get::<i64, _>("reminded")? != 0;
            let n: i64 = row.try_get("n")?;
            match (status.as_str(), reminded) {
                ("attended", true) => stats.attended_with_reminder += n,
                ("no_show", true) => stats.no_show_with_reminder += n,
                ("attended", false) => stats.attended_without_reminder += n,
                _ => stats.no_show_without_reminder += n,
            }
        }
        Ok(stats)
    }
}
