//! Inbound messages (the processing queue) and the outbox (the sending queue).
//! Both are claimed with a conditional `UPDATE … RETURNING` and a lease, so
//! several workers, and later several nodes, never take the same row.

use super::{Result, StorageError, Store, from_ts, parse_id, to_ts};
use crate::domain::*;
use chrono::{DateTime, Utc};
use sqlx::AnyConnection;
use sqlx::Row;
use sqlx::any::AnyRow;

#[derive(Debug, Clone)]
pub struct NewInbound {
    pub clinic_id: ClinicId,
    pub provider_message_id: String,
    pub channel: Channel,
    pub from: PhoneNumber,
    pub body: String,
    /// Every field received, as a JSON object (buttons, media, profile name…).
    pub fields_json: String,
    pub received_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct ClaimedInbound {
    pub id: i64,
    pub clinic_id: ClinicId,
    pub channel: Channel,
    pub from: PhoneNumber,
    pub body: String,
    pub fields_json: String,
    pub received_at: DateTime<Utc>,
    pub attempts: u32,
    /// The lease this node holds on it.
    pub claim: super::jobs::Claim,
}

#[derive(Debug, Clone)]
pub struct NewOutbound {
    pub clinic_id: ClinicId,
    pub conversation_id: ConversationId,
    pub inbound_id: Option<i64>,
    pub channel: Channel,
    pub to: PhoneNumber,
    pub body: String,
    pub author: &'static str,
    pub lifetime: Lifetime,
}

/// How long a message stays worth sending, and how hard it is pushed
/// through an outage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lifetime {
    /// An emergency reply: retried within seconds, and its first failure
    /// puts the conversation in front of staff.
    Urgent,
    /// Worth sending for the whole retry budget: a booking, move or
    /// cancellation done, a staff reply, a reminder or notice.
    Lasting,
    /// A conversational reply (an offer of times, a question): stale after
    /// [`Lifetime::FLEETING`], when the patient has moved on.
    Fleeting,
}

impl Lifetime {
    pub const FLEETING: chrono::Duration = chrono::Duration::hours(1);

    pub fn as_str(self) -> &'static str {
        match self {
            Lifetime::Urgent => "urgent",
            Lifetime::Lasting => "lasting",
            Lifetime::Fleeting => "fleeting",
        }
    }

    pub fn parse(s: &str) -> Option<Lifetime> {
        Some(match s {
            "urgent" => Lifetime::Urgent,
            "lasting" => Lifetime::Lasting,
            "fleeting" => Lifetime::Fleeting,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone)]
pub struct ClaimedOutbound {
    pub id: i64,
    pub clinic_id: ClinicId,
    pub conversation_id: ConversationId,
    pub created_at: DateTime<Utc>,
    pub lifetime: Lifetime,
    pub channel: Channel,
    pub to: PhoneNumber,
    pub body: String,
    pub attempts: u32,
    /// `reply` (to the patient's message), `staff`, or a message Nuru starts
    /// (`reminder`), which is not sent to a phone that opted out.
    pub kind: String,
    /// An approved template to send instead of the body: its Content SID and
    /// variables (`{"1": "…"}`); the body is what the transcript shows.
    pub template: Option<(String, String)>,
    /// Its outcome is unknown (Twilio did not answer, or its node died
    /// mid-send): to be looked up in Twilio's Messages API, never sent blindly.
    pub looking_up: bool,
    /// The lease this node holds on it.
    pub claim: super::jobs::Claim,
}

/// The inbound queue: a message is a job until processed (or given up on),
/// one conversation's messages one at a time, in order.
pub static INBOUND: super::jobs::Queue = super::jobs::Queue {
    name: "turns",
    table: "inbound_messages",
    key: &[("id", super::jobs::KeyType::Int)],
    run_at: "run_at",
    lease: "locked_until",
    attempts: "attempts",
    error: "error",
    open: "processed_at IS NULL",
    sequence: Some(&["clinic_id", "channel", "from_phone"]),
    join: None,
    index: Some("inbound_queue"),
    order: "inbound_messages.id",
    on_claim: "",
    on_release: "",
    on_bury: ", status = 'failed', processed_at = {now}",
    on_revive: ", status = 'pending', processed_at = NULL",
    returning: "clinic_id, channel, from_phone, body, fields, received_at",
};

/// The outbox: a reply is a job from queued until settled (sent, or given
/// up on), one conversation's replies one at a time, in order. A claimed
/// reply is sent; one whose outcome is unknown (left `uncertain`, or left
/// `sending` by a node that died, its lease run out) is looked up.
pub static OUTBOUND: super::jobs::Queue = super::jobs::Queue {
    name: "replies",
    table: "outbound_messages",
    key: &[("id", super::jobs::KeyType::Int)],
    run_at: "next_attempt_at",
    lease: "locked_until",
    attempts: "attempts",
    error: "error",
    open: "status IN ('queued', 'sending', 'uncertain', 'checking')",
    sequence: Some(&["conversation_id"]),
    join: None,
    index: Some("outbound_jobs"),
    order: "outbound_messages.id",
    on_claim: ", status = CASE status WHEN 'queued' THEN 'sending' ELSE 'checking' END",
    on_release: ", status = 'queued'",
    on_bury: ", status = 'failed'",
    on_revive: ", status = 'queued'",
    returning: "clinic_id, conversation_id, created_at, lifetime, channel, to_phone, body, kind, content_sid, content_variables, status",
};

#[derive(Debug, Clone)]
pub struct OutboundRow {
    pub id: i64,
    pub body: String,
    pub status: String,
    pub to: String,
    pub provider_message_id: Option<String>,
}

/// A clinic's delivery failures over a period.
#[derive(Debug, Clone, Default)]
pub struct DeliveryFailures {
    pub failed: i64,
    pub uncertain: i64,
    /// Kind, reason, count; most first.
    pub by_reason: Vec<(String, String, i64)>,
    pub recent: Vec<FailedSend>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct FailedSend {
    pub id: i64,
    pub conversation_id: String,
    pub kind: String,
    pub channel: String,
    #[sqlx(rename = "to_phone")]
    pub to: String,
    pub attempts: i64,
    pub error: String,
    #[sqlx(try_from = "super::sql::Epoch")]
    pub created_at: DateTime<Utc>,
}

/// The columns a claimed reply is read from.
fn claimed_outbound(claim: super::jobs::Claim, row: &AnyRow) -> Result<ClaimedOutbound> {
    Ok(ClaimedOutbound {
        looking_up: row.try_get::<String, _>("status")? == "checking",
        id: row.try_get("id")?,
        clinic_id: parse_id(&row.try_get::<String, _>("clinic_id")?, ClinicId::parse)?,
        conversation_id: parse_id(&row.try_get::<String, _>("conversation_id")?, ConversationId::parse)?,
        created_at: from_ts(row.try_get("created_at")?)?,
        lifetime: {
            let s: String = row.try_get("lifetime")?;
            Lifetime::parse(&s).ok_or_else(|| StorageError::Corrupt(format!("bad lifetime {s}")))?
        },
        channel: channel(row)?,
        to: phone(row, "to_phone")?,
        body: row.try_get("body")?,
        attempts: claim.attempts,
        kind: row.try_get("kind")?,
        template: match (row.try_get::<Option<String>, _>("content_sid")?, row.try_get::<Option<String>, _>("content_variables")?) {
            (Some(sid), vars) => Some((sid, vars.unwrap_or_else(|| "{}".into()))),
            _ => None,
        },
        claim,
    })
}

fn channel(row: &AnyRow) -> Result<Channel> {
    let s: String = row.try_get("channel")?;
    Channel::parse(&s).ok_or_else(|| StorageError::Corrupt(format!("bad channel {s}")))
}

fn phone(row: &AnyRow, col: &str) -> Result<PhoneNumber> {
    PhoneNumber::parse(&row.try_get::<String, _>(col)?).map_err(StorageError::Corrupt)
}

impl Store {
    /// A Twilio status callback for one of the clinic's replies: recorded
    /// only if it moves the reply forward (callbacks arrive out of order and
    /// more than once). False when it did not (or names no reply of ours).
    pub async fn record_delivery_status(
        &self,
        clinic: ClinicId,
        provider_message_id: &str,
        status: &str,
        rank: i64,
        error_code: Option<i64>,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE outbound_messages SET delivery_status = $1, delivery_rank = $2, delivery_error_code = $3, delivery_updated_at = $4 \
             WHERE provider_message_id = $5 AND clinic_id = $6 AND delivery_rank < $2",
        )
        .bind(status)
        .bind(rank)
        .bind(error_code)
        .bind(to_ts(now))
        .bind(provider_message_id)
        .bind(clinic.to_string())
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Stores an inbound delivery. Returns `false` when `(clinic, provider id)`
    /// was already stored: the unique key makes a repeated delivery a no-op.
    pub async fn insert_inbound(&self, m: &NewInbound) -> Result<bool> {
        let mut conn = self.pool.acquire().await?;
        Store::insert_inbound_in(&mut conn, m).await
    }

    pub(super) async fn insert_inbound_in(conn: &mut AnyConnection, m: &NewInbound) -> Result<bool> {
        let done = sqlx::query(
            "INSERT INTO inbound_messages (clinic_id, provider_message_id, channel, from_phone, body, fields, received_at) \
             VALUES ($1,$2,$3,$4,$5,$6,$7) ON CONFLICT (clinic_id, provider_message_id) DO NOTHING",
        )
        .bind(m.clinic_id.to_string())
        .bind(&m.provider_message_id)
        .bind(m.channel.as_str())
        .bind(m.from.as_str())
        .bind(&m.body)
        .bind(&m.fields_json)
        .bind(to_ts(m.received_at))
        .execute(conn)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Leases the oldest unprocessed message whose conversation has no older
    /// unprocessed message: one conversation is processed in order, one
    /// message at a time, while different conversations proceed in parallel.
    pub async fn claim_inbound(&self, now: DateTime<Utc>, lease_until: DateTime<Utc>) -> Result<Option<ClaimedInbound>> {
        let Some((claim, row)) = self.claim_job(&INBOUND, now, lease_until).await? else { return Ok(None) };
        Ok(Some(ClaimedInbound {
            id: row.try_get("id")?,
            clinic_id: parse_id(&row.try_get::<String, _>("clinic_id")?, ClinicId::parse)?,
            channel: channel(&row)?,
            from: phone(&row, "from_phone")?,
            body: row.try_get("body")?,
            fields_json: row.try_get("fields")?,
            received_at: from_ts(row.try_get("received_at")?)?,
            attempts: claim.attempts,
            claim,
        }))
    }

    /// Inside the turn's transaction: marks the message processed. `false`
    /// means another worker finished it first, and the caller must roll back.
    pub async fn mark_inbound_processed(conn: &mut AnyConnection, id: i64, now: DateTime<Utc>) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE inbound_messages SET processed_at = $1, status = 'processed', locked_until = NULL \
             WHERE id = $2 AND processed_at IS NULL",
        )
        .bind(to_ts(now))
        .bind(id)
        .execute(conn)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    pub async fn count_inbound(&self, clinic: ClinicId) -> Result<i64> {
        Ok(sqlx::query("SELECT COUNT(*) AS n FROM inbound_messages WHERE clinic_id = $1")
            .bind(clinic.to_string())
            .fetch_one(&self.pool)
            .await?
            .try_get("n")?)
    }

    pub async fn count_unprocessed_inbound(&self) -> Result<i64> {
        Ok(sqlx::query("SELECT COUNT(*) AS n FROM inbound_messages WHERE processed_at IS NULL")
            .fetch_one(&self.pool)
            .await?
            .try_get("n")?)
    }

    /// Inside the turn's transaction: queues a reply.
    pub async fn insert_outbound(conn: &mut AnyConnection, m: &NewOutbound, now: DateTime<Utc>) -> Result<()> {
        Store::insert_outbound_of_kind(conn, m, "reply", None, now).await.map(|_| ())
    }

    /// Inside a transaction: queues a message of `kind` (`reply`, or one Nuru
    /// starts: `reminder`), sent as `template` (Content SID, variables) when
    /// given; returns its id.
    pub async fn insert_outbound_of_kind(
        conn: &mut AnyConnection,
        m: &NewOutbound,
        kind: &str,
        template: Option<(&str, &str)>,
        now: DateTime<Utc>,
    ) -> Result<i64> {
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO outbound_messages (clinic_id, conversation_id, inbound_id, channel, to_phone, body, author, \
               next_attempt_at, created_at, kind, content_sid, content_variables, lifetime) \
             VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$8,$9,$10,$11,$12) RETURNING id",
        )
        .bind(m.clinic_id.to_string())
        .bind(m.conversation_id.to_string())
        .bind(m.inbound_id)
        .bind(m.channel.as_str())
        .bind(m.to.as_str())
        .bind(&m.body)
        .bind(m.author)
        .bind(to_ts(now))
        .bind(kind)
        .bind(template.map(|(sid, _)| sid))
        .bind(template.map(|(_, vars)| vars))
        .bind(m.lifetime.as_str())
        .fetch_one(conn)
        .await?;
        Ok(id)
    }

    /// A send whose outcome is unknown (no answer, or an unreadable one):
    /// looked up in Twilio's Messages API at `check_at`.
    pub async fn mark_outbound_uncertain(&self, id: i64, check_at: DateTime<Utc>, error: &str) -> Result<()> {
        sqlx::query(
            "UPDATE outbound_messages SET status = 'uncertain', next_attempt_at = $1, locked_until = NULL, error = $2 \
             WHERE id = $3 AND status IN ('sending', 'checking')",
        )
        .bind(to_ts(check_at))
        .bind(error)
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The clinic's messages queued in `[from, to)` that failed (given up,
    /// refused) or whose outcome is being looked up, by kind and reason, and
    /// the `recent` latest failures.
    pub async fn delivery_failures(
        &self,
        clinic: ClinicId,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        recent: i64,
    ) -> Result<DeliveryFailures> {
        let (c, lo, hi) = (clinic.to_string(), to_ts(from), to_ts(to));
        let counts = sqlx::query(
            "SELECT kind, COALESCE(error, '') AS reason, status, COUNT(*) AS n FROM outbound_messages \
             WHERE clinic_id = $1 AND created_at >= $2 AND created_at < $3 AND status IN ('failed', 'unknown', 'uncertain', 'checking') \
             GROUP BY kind, COALESCE(error, ''), status ORDER BY COUNT(*) DESC, kind, COALESCE(error, '')",
        )
        .bind(&c)
        .bind(lo)
        .bind(hi)
        .fetch_all(&self.pool)
        .await?;
        let mut f = DeliveryFailures::default();
        for row in counts {
            let (kind, reason, status, n): (String, String, String, i64) =
                (row.try_get("kind")?, row.try_get("reason")?, row.try_get("status")?, row.try_get("n")?);
            if matches!(status.as_str(), "uncertain" | "checking") {
                f.uncertain += n;
                continue;
            }
            f.failed += n;
            match f.by_reason.iter_mut().find(|(k, r, _)| *k == kind && *r == reason) {
                Some(entry) => entry.2 += n,
                None => f.by_reason.push((kind, reason, n)),
            }
        }
        f.by_reason.sort_by(|a, b| b.2.cmp(&a.2).then_with(|| (&a.0, &a.1).cmp(&(&b.0, &b.1))));
        f.recent = sqlx::query_as::<_, FailedSend>(
            "SELECT id, conversation_id, kind, channel, to_phone, attempts, COALESCE(error, '') AS error, created_at FROM outbound_messages \
             WHERE clinic_id = $1 AND created_at >= $2 AND created_at < $3 AND status IN ('failed', 'unknown') \
             ORDER BY created_at DESC, id DESC LIMIT $4",
        )
        .bind(&c)
        .bind(lo)
        .bind(hi)
        .bind(recent)
        .fetch_all(&self.pool)
        .await?;
        Ok(f)
    }

    /// Whether a Twilio message id is already one of this clinic's sends.
    pub async fn is_our_send(&self, clinic: ClinicId, provider_id: &str) -> Result<bool> {
        let row = sqlx::query("SELECT 1 AS x FROM outbound_messages WHERE clinic_id = $1 AND provider_message_id = $2 LIMIT 1")
            .bind(clinic.to_string())
            .bind(provider_id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.is_some())
    }

    /// An uncertain send that Twilio never received: queued again, a try
    /// like any other.
    pub async fn requeue_outbound(&self, id: i64, at: DateTime<Utc>) -> Result<()> {
        sqlx::query(
            "UPDATE outbound_messages SET status = 'queued', next_attempt_at = $1, locked_until = NULL \
             WHERE id = $2 AND status = 'checking'",
        )
        .bind(to_ts(at))
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Leases the next due reply whose conversation has no older unsettled
    /// reply (one being sent, or whose outcome is being looked up, holds its
    /// conversation's next: replies keep their order).
    pub async fn claim_outbound(&self, now: DateTime<Utc>, lease_until: DateTime<Utc>) -> Result<Option<ClaimedOutbound>> {
        let Some((claim, row)) = self.claim_job(&OUTBOUND, now, lease_until).await? else { return Ok(None) };
        claimed_outbound(claim, &row).map(Some)
    }

    pub async fn mark_outbound_sent(&self, id: i64, provider_id: &str, now: DateTime<Utc>) -> Result<()> {
        sqlx::query(
            "UPDATE outbound_messages SET status = 'sent', provider_message_id = $1, sent_at = $2, locked_until = NULL, error = NULL \
             WHERE id = $3 AND status IN ('sending', 'checking')",
        )
        .bind(provider_id)
        .bind(to_ts(now))
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Puts a claimed reply back, unsent and not counted as an attempt: its
    /// sending number (the clinic's number on that channel) has used its
    /// rate for now, so the clinic's other replies on the channel wait until
    /// `at` as well instead of being claimed and put back one by one. Nothing
    /// is held while they wait, so a stop or a crash cannot leave one half-sent.
    pub async fn defer_outbound(&self, m: &ClaimedOutbound, at: DateTime<Utc>) -> Result<()> {
        let mut tx = self.begin().await?;
        sqlx::query(
            "UPDATE outbound_messages SET status = 'queued', next_attempt_at = $1, locked_until = NULL, attempts = attempts - 1 \
             WHERE id = $2 AND status = 'sending'",
        )
        .bind(to_ts(at))
        .bind(m.id)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE outbound_messages SET next_attempt_at = $1 \
             WHERE clinic_id = $2 AND channel = $3 AND status = 'queued' AND next_attempt_at < $1",
        )
        .bind(to_ts(at))
        .bind(m.clinic_id.to_string())
        .bind(m.channel.as_str())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// A message that will not be delivered (or, urgent, not yet): the
    /// conversation of a reply, staff message or reminder is put in front of
    /// staff, marked undelivered, in one transaction with the message's
    /// failure when `give_up`.
    pub async fn flag_undelivered(&self, m: &ClaimedOutbound, give_up: Option<&str>, now: DateTime<Utc>) -> Result<()> {
        let mut tx = self.begin().await?;
        if let Some(error) = give_up {
            Store::bury_job_in(&mut tx, &OUTBOUND, &m.claim, error, now).await?;
        }
        // A reply, a staff message or a reminder the patient counted on; a
        // broadcast or a feedback request that fails is counted in its own
        // report and in the clinic's delivery failures, not in the inbox.
        if matches!(m.kind.as_str(), "reply" | "staff" | "reminder") {
            sqlx::query(
                "UPDATE conversations SET needs_human = 1, undelivered_at = $1, updated_at = $1, version = version + 1 \
                 WHERE id = $2 AND clinic_id = $3 AND undelivered_at IS NULL",
            )
            .bind(to_ts(now))
            .bind(m.conversation_id.to_string())
            .bind(m.clinic_id.to_string())
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Replies of one conversation after `after_id`, oldest first.
    pub async fn outbound_for_conversation(&self, conversation: ConversationId, after_id: i64) -> Result<Vec<OutboundRow>> {
        sqlx::query(
            "SELECT id, body, status, to_phone, provider_message_id FROM outbound_messages \
             WHERE conversation_id = $1 AND id > $2 ORDER BY id",
        )
        .bind(conversation.to_string())
        .bind(after_id)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|row| {
            Ok(OutboundRow {
                id: row.try_get("id")?,
                body: row.try_get("body")?,
                status: row.try_get("status")?,
                to: row.try_get("to_phone")?,
                provider_message_id: row.try_get("provider_message_id")?,
            })
        })
        .collect()
    }

    /// How many messages wait to be processed and replies to be sent, and
    /// when the oldest of each arrived (epoch seconds): the operations view.
    pub async fn queue_depths(&self) -> Result<QueueDepths> {
        let row = sqlx::query(
            "SELECT (SELECT COUNT(*) FROM inbound_messages WHERE processed_at IS NULL) AS inbound_waiting, \
                    (SELECT MIN(received_at) FROM inbound_messages WHERE processed_at IS NULL) AS inbound_oldest, \
                    (SELECT COUNT(*) FROM outbound_messages WHERE status = 'queued') AS outbound_waiting, \
                    (SELECT MIN(created_at) FROM outbound_messages WHERE status = 'queued') AS outbound_oldest",
        )
        .fetch_one(&self.pool)
        .await?;
        let oldest = |col: &str| -> Result<Option<DateTime<Utc>>> { row.try_get::<Option<i64>, _>(col)?.map(from_ts).transpose() };
        Ok(QueueDepths {
            inbound_waiting: row.try_get("inbound_waiting")?,
            inbound_oldest: oldest("inbound_oldest")?,
            outbound_waiting: row.try_get("outbound_waiting")?,
            outbound_oldest: oldest("outbound_oldest")?,
        })
    }
}

#[derive(Debug, Clone, Copy)]
pub struct QueueDepths {
    pub inbound_waiting: i64,
    pub inbound_oldest: Option<DateTime<Utc>>,
    pub outbound_waiting: i64,
    pub outbound_oldest: Option<DateTime<Utc>>,
}

impl Store {
    /// The text of an earlier message from `phone` to the clinic (a question
    /// a later turn answers); `None` if there is no such message of that phone.
    /// The Twilio fields of one of this phone's messages (its media, for one).
    pub async fn inbound_fields(&self, clinic: ClinicId, phone: &PhoneNumber, id: i64) -> Result<Option<String>> {
        let row = sqlx::query("SELECT fields FROM inbound_messages WHERE id = $1 AND clinic_id = $2 AND from_phone = $3")
            .bind(id)
            .bind(clinic.to_string())
            .bind(phone.as_str())
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| r.try_get::<String, _>("fields")).transpose()?)
    }

    pub async fn inbound_body(&self, clinic: ClinicId, phone: &PhoneNumber, id: i64) -> Result<Option<String>> {
        let row = sqlx::query("SELECT body FROM inbound_messages WHERE id = $1 AND clinic_id = $2 AND from_phone = $3")
            .bind(id)
            .bind(clinic.to_string())
            .bind(phone.as_str())
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| r.try_get::<String, _>("body")).transpose()?)
    }
}
