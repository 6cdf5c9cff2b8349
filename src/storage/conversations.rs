use super::{Result, StorageError, Store, from_ts, parse_id, to_ts};
use crate::domain::*;
use chrono::{DateTime, Utc};
use sqlx::AnyConnection;
use sqlx::Row;

/// A conversation as stored. The state is the conversation module's JSON; the
/// version makes every save conditional on nobody else having saved first.
#[derive(Debug, Clone)]
pub struct ConversationRow {
    pub id: ConversationId,
    pub clinic_id: ClinicId,
    pub channel: Channel,
    pub phone: PhoneNumber,
    pub language: Lang,
    pub state_json: String,
    /// Where the conversation stands (idle, booking, cancelling, moving,
    /// handed_off), kept beside the state for filtering.
    pub flow: String,
    pub version: i64,
    pub needs_human: bool,
    pub urgent: bool,
    pub last_inbound_at: Option<DateTime<Utc>>,
    /// The reminder this conversation's next message may answer.
    pub awaiting_reminder: Option<i64>,
    /// The feedback request the next message may answer.
    pub awaiting_feedback: Option<i64>,
}

impl Store {
    pub async fn conversation_for(
        &self,
        clinic: ClinicId,
        channel: Channel,
        phone: &PhoneNumber,
        language: Lang,
        initial_state: &str,
        now: DateTime<Utc>,
    ) -> Result<ConversationRow> {
        sqlx::query(
            "INSERT INTO conversations (id, clinic_id, channel, phone, language, state, created_at, updated_at) \
             VALUES ($1,$2,$3,$4,$5,$6,$7,$7) ON CONFLICT (clinic_id, channel, phone) DO NOTHING",
        )
        .bind(ConversationId::random().to_string())
        .bind(clinic.to_string())
        .bind(channel.as_str())
        .bind(phone.as_str())
        .bind(language.as_str())
        .bind(initial_state)
        .bind(to_ts(now))
        .execute(&self.pool)
        .await?;
        let row = sqlx::query(
            "SELECT id, language, state, flow, version, needs_human, urgent, last_inbound_at, awaiting_reminder, awaiting_feedback FROM conversations \
             WHERE clinic_id = $1 AND channel = $2 AND phone = $3",
        )
        .bind(clinic.to_string())
        .bind(channel.as_str())
        .bind(phone.as_str())
        .fetch_one(&self.pool)
        .await?;
        let lang: String = row.try_get("language")?;
        Ok(ConversationRow {
            id: parse_id(&row.try_get::<String, _>("id")?, ConversationId::parse)?,
            clinic_id: clinic,
            channel,
            phone: phone.clone(),
            language: Lang::parse(&lang).ok_or_else(|| StorageError::Corrupt(format!("bad language {lang}")))?,
            state_json: row.try_get("state")?,
            flow: row.try_get("flow")?,
            version: row.try_get("version")?,
            needs_human: row.try_get::<i64, _>("needs_human")? != 0,
            urgent: row.try_get::<i64, _>("urgent")? != 0,
            last_inbound_at: row.try_get::<Option<i64>, _>("last_inbound_at")?.map(from_ts).transpose()?,
            awaiting_reminder: row.try_get("awaiting_reminder")?,
            awaiting_feedback: row.try_get("awaiting_feedback")?,
        })
    }

    /// Where a conversation's messages go and in which language: its
    /// channel, phone and language, if it is the clinic's.
    pub async fn conversation_contact(&self, clinic: ClinicId, id: ConversationId) -> Result<Option<(Channel, PhoneNumber, Lang)>> {
        let row = sqlx::query("SELECT channel, phone, language FROM conversations WHERE id = $1 AND clinic_id = $2")
            .bind(id.to_string())
            .bind(clinic.to_string())
            .fetch_optional(&self.pool)
            .await?;
        let Some(row) = row else { return Ok(None) };
        let (channel, phone, lang): (String, String, String) = (row.try_get("channel")?, row.try_get("phone")?, row.try_get("language")?);
        Ok(Some((
            Channel::parse(&channel).ok_or_else(|| StorageError::Corrupt(format!("bad channel {channel}")))?,
            PhoneNumber::parse(&phone).map_err(StorageError::Corrupt)?,
            Lang::parse(&lang).ok_or_else(|| StorageError::Corrupt(format!("bad language {lang}")))?,
        )))
    }

    /// Saves the conversation if its version is still `row.version`; bumps it.
    pub async fn save_conversation(conn: &mut AnyConnection, row: &ConversationRow, now: DateTime<Utc>) -> Result<()> {
        let done = sqlx::query(
            "UPDATE conversations SET language = $1, state = $2, needs_human = $3, urgent = $4, last_inbound_at = $5, \
               version = version + 1, updated_at = $6, flow = $9 WHERE id = $7 AND version = $8",
        )
        .bind(row.language.as_str())
        .bind(&row.state_json)
        .bind(row.needs_human as i64)
        .bind(row.urgent as i64)
        .bind(row.last_inbound_at.map(to_ts))
        .bind(to_ts(now))
        .bind(row.id.to_string())
        .bind(row.version)
        .bind(&row.flow)
        .execute(conn)
        .await?;
        if done.rows_affected() == 1 { Ok(()) } else { Err(StorageError::Conflict("conversation")) }
    }
}
