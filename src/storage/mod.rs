//! The only module that writes SQL. One code path serves SQLite and PostgreSQL
//! through sqlx's `Any` driver; each backend has its own migrations under
//! `migrations/`. Instants are stored as UTC epoch seconds, ids as UUID text and
//! flags as integers, the types `Any` decodes identically on both backends.

mod accounts;
mod activity;
mod admin;
mod appointments;
mod broadcasts;
mod calendar;
mod catalog;
mod clinics;
mod conversations;
mod document_reads;
mod documents;
mod feedback;
mod intake;
pub mod jobs;
mod messages;
mod patients;
mod reminders;
mod schedule;
mod sql;

pub use accounts::{AuditEvent, ClinicRole, Membership, NewAuditEvent, RefreshRow, SystemEvent, UserRow};
pub use activity::Activity;
pub use admin::{ClinicStats, ConversationFilter, ConversationSummary, MessageView};
pub use appointments::{NewAppointment, UpcomingAppointment};
pub use broadcasts::{BROADCAST_RECIPIENTS, BroadcastAction, BroadcastRecord, ClaimedRecipient, NewBroadcast, RecipientRecord, Segment};
pub use calendar::{
    BusyChanges, CALENDAR_WRITES, CONNECTED, CalendarConflict, CalendarWrite, GOOGLE_SOURCE, GOOGLE_SYNCS, GoogleConnection,
    NEEDS_RECONNECT, OAUTH, OAuthState, SERVICE_ACCOUNT,
};
pub use catalog::{FutureOf, StoredWindow};
pub use clinics::TwilioCredentials;
pub use conversations::ConversationRow;
pub use document_reads::{ClaimedRead, DOCUMENT_READS, PendingDocument, ReadDocument};
pub use documents::{DocumentRecord, NewDocument, NewPassage, StoredPassage};
pub use feedback::{
    ANSWER_WINDOW, AskAfter, ClaimedFeedback, FEEDBACK, FeedbackComment, FeedbackSettings, FeedbackStats, RatingSummary, VisitEvent,
};
pub use intake::Intake;
pub use messages::{ClaimedInbound, ClaimedOutbound, INBOUND, Lifetime, NewInbound, NewOutbound, OUTBOUND, OutboundRow, QueueDepths};
pub use patients::{Erasure, PatientPage, PatientRecord};
pub use reminders::{
    ClaimedReminder, Consent, ConsentChange, REMINDERS, ReminderRecord, ReminderSettings, ReminderStats, ReminderTarget, StoredTemplate,
    TargetConversation,
};

use chrono::{DateTime, TimeZone, Utc};
use sqlx::AnyConnection;
use sqlx::any::AnyPoolOptions;
use sqlx::migrate::Migrator;
use sqlx::{AnyPool, Executor};
use std::time::Duration;

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("migrations/postgres");

pub type Tx = sqlx::Transaction<'static, sqlx::Any>;

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("stored data is invalid: {0}")]
    Corrupt(String),
    #[error("not found: {0}")]
    NotFound(&'static str),
    #[error("concurrent update of {0}")]
    Conflict(&'static str),
    #[error("cannot reach the database {0} within {CONNECT_SECONDS} s: is it running, and is database_url (NURU_DATABASE_URL) right?")]
    Unreachable(String),
}

impl StorageError {
    /// The database refuses to write: its disk is full, its file read-only,
    /// its storage failing (SQLite's FULL, READONLY, IOERR, CANTOPEN;
    /// PostgreSQL's disk_full, insufficient_resources, read_only_sql_transaction).
    /// Nothing can be stored until an operator frees room or fixes it.
    pub fn cannot_write(&self) -> bool {
        let StorageError::Database(sqlx::Error::Database(db)) = self else { return false };
        let Some(code) = db.code() else { return false };
        match code.parse::<i32>() {
            // SQLite: the primary code is the extended code's low byte.
            Ok(extended) => matches!(extended & 0xff, 8 | 10 | 13 | 14),
            Err(_) => matches!(code.as_ref(), "53100" | "53000" | "25006"),
        }
    }

    /// The database is down, unreachable or out of connections (a retry may
    /// succeed), as opposed to a fault in the query or the data.
    pub fn is_unavailable(&self) -> bool {
        matches!(
            self,
            StorageError::Unreachable(_)
                | StorageError::Database(sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) | sqlx::Error::Tls(_))
        )
    }
}

/// How long the first connection may take before start-up gives up.
const CONNECT_SECONDS: u64 = 5;

/// `postgres://user:secret@host:5432/db` → `host:5432/db` (no credentials in messages).
fn describe_url(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(u) => format!("{}:{}{}", u.host_str().unwrap_or("?"), u.port().unwrap_or(5432), u.path()),
        Err(_) => "(unparsable URL)".into(),
    }
}

pub type Result<T, E = StorageError> = std::result::Result<T, E>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The database handle. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    health: std::sync::Arc<WriteHealth>,
}

/// What this node last learned of the database's ability to store: the
/// reason of the last write that failed because the database could not
/// write or could not be reached, until a write succeeds again, so that the
/// change is logged once each way (ERROR, then INFO).
#[derive(Debug)]
struct WriteHealth {
    failing: std::sync::Mutex<Option<String>>,
    /// This process's row in `write_probes`.
    node: String,
}

impl Default for WriteHealth {
    fn default() -> Self {
        WriteHealth { failing: Default::default(), node: uuid::Uuid::new_v4().to_string() }
    }
}

impl Store {
    /// Connects, creating the SQLite file if needed, and applies migrations.
    pub async fn connect(url: &str, max_connections: Option<u32>) -> Result<Store> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("sqlite:") { Backend::Sqlite } else { Backend::Postgres };
        let url = match backend {
            Backend::Sqlite => sqlite_url(url)?,
            Backend::Postgres => url.to_string(),
        };
        let max = max_connections.unwrap_or(match backend {
            Backend::Sqlite => 1,
            Backend::Postgres => 10,
        });
        let pool = AnyPoolOptions::new()
            .max_connections(max)
            .acquire_timeout(Duration::from_secs(30))
            // A connection whose transaction was not closed (SQLite rolls a
            // transaction back by itself on a full disk; the driver's ROLLBACK
            // then fails and it still counts one open) would run every later
            // "transaction" as a savepoint inside it, committing nothing:
            // such a connection is closed and replaced, never reused.
            .before_acquire(|conn: &mut AnyConnection, _| {
                Box::pin(async move {
                    use sqlx::Connection;
                    if conn.is_in_transaction() {
                        tracing::warn!("a database connection came back with a transaction still open: replaced");
                        return Ok(false);
                    }
                    Ok(true)
                })
            })
            .after_connect(move |conn: &mut AnyConnection, _| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        // WAL + NORMAL: commits do not fsync (checkpoints do);
                        // the busy timeout lets several connections wait their turn.
                        conn.execute("PRAGMA journal_mode = WAL").await?;
                        conn.execute("PRAGMA synchronous = NORMAL").await?;
                        conn.execute("PRAGMA busy_timeout = 10000").await?;
                        conn.execute("PRAGMA foreign_keys = ON").await?;
                    }
                    Ok(())
                })
            })
            .connect(&url);
        let pool = match tokio::time::timeout(Duration::from_secs(CONNECT_SECONDS), pool).await {
            Ok(pool) => pool?,
            Err(_) => return Err(StorageError::Unreachable(describe_url(&url))),
        };
        match backend {
            Backend::Sqlite => SQLITE_MIGRATIONS.run(&pool).await?,
            Backend::Postgres => POSTGRES_MIGRATIONS.run(&pool).await?,
        }
        Ok(Store { pool, backend, health: Default::default() })
    }

    /// Records a write's outcome: a failure because the database cannot
    /// write or cannot be reached marks the store failing (logged once), a
    /// success clears it (logged once).
    pub(crate) fn note_write<T>(&self, outcome: &Result<T>) {
        let mut failing = self.health.failing.lock().unwrap_or_else(|e| e.into_inner());
        match outcome {
            Ok(_) if failing.is_some() => {
                *failing = None;
                tracing::info!("the database stores again");
            }
            Ok(_) => {}
            Err(e) if e.cannot_write() || e.is_unavailable() => {
                if failing.is_none() {
                    tracing::error!(error = %e, "the database cannot store: webhooks are answered 503 until it can");
                }
                *failing = Some(e.to_string());
            }
            Err(_) => {}
        }
    }

    /// A real write, committed: one row per node, written with 64 KiB that
    /// need fresh room, then emptied. Succeeds only if the database can store
    /// a small batch of messages now. Clears or sets the failing mark.
    pub async fn probe_write(&self, now: DateTime<Utc>) -> Result<()> {
        let node = self.health.node.as_str();
        let outcome = async {
            let mut tx = self.begin().await?;
            sqlx::query(
                "INSERT INTO write_probes (node, probed_at, room) VALUES ($1, $2, $3) \
                 ON CONFLICT (node) DO UPDATE SET probed_at = excluded.probed_at, room = excluded.room",
            )
            .bind(node)
            .bind(to_ts(now))
            .bind(rand::random_iter::<u8>().take(64 * 1024).collect::<Vec<u8>>())
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            // Room freed; rows of nodes gone for a day are forgotten.
            sqlx::query("UPDATE write_probes SET room = NULL WHERE node = $1").bind(node).execute(&self.pool).await?;
            sqlx::query("DELETE FROM write_probes WHERE probed_at < $1").bind(to_ts(now) - 86_400).execute(&self.pool).await?;
            Ok(())
        }
        .await;
        self.note_write(&outcome);
        outcome
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    pub async fn begin(&self) -> Result<Tx> {
        Ok(self.pool.begin().await?)
    }

    /// Connections open, idle, and the most the pool may open.
    pub fn pool_usage(&self) -> (u32, usize, u32) {
        (self.pool.size(), self.pool.num_idle(), self.pool.options().get_max_connections())
    }

    /// A trivial query: is the database reachable?
    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// Every migration this build carries has been applied (a node started
    /// against a database another version migrated is not ready).
    pub async fn migrations_current(&self) -> Result<bool> {
        use sqlx::Row;
        let migrator = match self.backend {
            Backend::Sqlite => &SQLITE_MIGRATIONS,
            Backend::Postgres => &POSTGRES_MIGRATIONS,
        };
        let applied: std::collections::HashSet<i64> = sqlx::query("SELECT version FROM _sqlx_migrations WHERE success = TRUE")
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| r.try_get::<i64, _>("version"))
            .collect::<std::result::Result<_, _>>()?;
        Ok(migrator.iter().all(|m| applied.contains(&m.version)))
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// Makes `sqlite://path` create the file (and its folder) when missing.
fn sqlite_url(url: &str) -> Result<String> {
    let rest = url.trim_start_matches("sqlite:").trim_start_matches("//");
    if rest.starts_with(":memory:") || rest.contains("mode=memory") {
        return Ok(url.to_string());
    }
    let path = rest.split('?').next().unwrap_or_default();
    if let Some(dir) = std::path::Path::new(path).parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| StorageError::Corrupt(format!("cannot create {}: {e}", dir.display())))?;
    }
    Ok(if url.contains('?') { url.to_string() } else { format!("{url}?mode=rwc") })
}

pub(crate) fn to_ts(t: DateTime<Utc>) -> i64 {
    t.timestamp()
}

pub(crate) fn from_ts(secs: i64) -> Result<DateTime<Utc>> {
    Utc.timestamp_opt(secs, 0).single().ok_or_else(|| StorageError::Corrupt(format!("bad timestamp {secs}")))
}

pub(crate) fn parse_id<T>(s: &str, parse: fn(&str) -> Result<T, uuid::Error>) -> Result<T> {
    parse(s).map_err(|_| StorageError::Corrupt(format!("bad id {s}")))
}
