//! What the bot and staff did, counted for the clinic's statistics: moves,
//! cancellations, handoffs, emergencies, model calls. A row holds a kind, an
//! actor and a time; never patient data.

use super::{Result, Store, to_ts};
use crate::domain::ClinicId;
use chrono::{DateTime, Utc};
use sqlx::AnyConnection;

/// The kinds of activity counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activity {
    Moved,
    Cancelled,
    /// A conversation passed to staff (asked for, misunderstood, or taken over).
    Handoff,
    Emergency,
    ModelCall,
    ModelFailure,
}

impl Activity {
    pub fn as_str(self) -> &'static str {
        match self {
            Activity::Moved => "moved",
            Activity::Cancelled => "cancelled",
            Activity::Handoff => "handoff",
            Activity::Emergency => "emergency",
            Activity::ModelCall => "model_call",
            Activity::ModelFailure => "model_failure",
        }
    }
}

impl Store {
    /// Inside the transaction that made the change, so a rolled-back change
    /// is not counted. `actor` is `bot` or `staff`.
    pub async fn record_activity(
        conn: &mut AnyConnection,
        clinic: ClinicId,
        kind: Activity,
        actor: &str,
        now: DateTime<Utc>,
    ) -> Result<()> {
        sqlx::query("INSERT INTO activity_events (clinic_id, at, kind, actor) VALUES ($1, $2, $3, $4)")
            .bind(clinic.to_string())
            .bind(to_ts(now))
            .bind(kind.as_str())
            .bind(actor)
            .execute(&mut *conn)
            .await?;
        Ok(())
    }

    /// Outside any transaction (model calls, which change nothing themselves).
    pub async fn note_activity(&self, clinic: ClinicId, kind: Activity, actor: &str, now: DateTime<Utc>) -> Result<()> {
        let mut conn = self.pool.acquire().await?;
        Self::record_activity(&mut conn, clinic, kind, actor, now).await
    }
}
