//! One mechanism for every leased queue.
//!
//! A queue is a table whose rows are its jobs: the row that says what to do
//! (a message to process, a reply to send, a reminder, a document to read…)
//! carries its own job columns, so a job's outcome and its domain state
//! change in one statement, and a queue that must keep an order (one
//! conversation's messages) keeps it with an index on its own table. What
//! every queue shares is written once, here: claiming the next due row with
//! a lease (skipping rows another node is claiming on PostgreSQL), renewing
//! the lease, giving a row back for a later time (an attempt or not), and
//! giving up on it into a dead-letter state with the reason, which operators
//! list and revive. Every write after a claim is fenced by the claim's lease
//! (its token): a node whose lease ran out and was claimed again writes nothing.
//!
//! Why not one `jobs` table (Oban, graphile-worker): a separate job row
//! would have to be kept consistent with its domain row in every write that
//! closes one (a cancelled appointment's reminders, a conversation's replies),
//! and the two hottest queues would pay a join on every claim. The policy
//! of when to try again is pure and lives in `crate::retry`.

use super::sql::Statement;
use super::{Result, Store, from_ts, to_ts};
use chrono::{DateTime, Utc};
use sqlx::Row;
use sqlx::any::AnyRow;

/// A queue: its table and what makes one of its rows due.
#[derive(Debug)]
pub struct Queue {
    /// For logs, metrics and the operators' dead-letter listing.
    pub name: &'static str,
    pub(super) table: &'static str,
    /// The key columns (one, or two for a composite key), integers or text.
    pub(super) key: &'static [(&'static str, KeyType)],
    /// When the row is due.
    pub(super) run_at: &'static str,
    /// Until when a node holds it (0 or NULL: nobody); the claim's token.
    pub(super) lease: &'static str,
    pub(super) attempts: &'static str,
    pub(super) error: &'static str,
    /// The row still has work (unqualified columns of `table`).
    pub(super) open: &'static str,
    /// Rows with equal values in these (text) columns are one sequence,
    /// done one at a time in key order: an open row waits for every open
    /// row of its sequence with a smaller key (a conversation's order). A
    /// sequenced queue has one integer key, which is also its `order`.
    pub(super) sequence: Option<&'static [&'static str]>,
    /// Joined tables a claim also requires (a connected calendar).
    pub(super) join: Option<&'static str>,
    /// SQLite's planner is told which partial index serves the claim.
    pub(super) index: Option<&'static str>,
    pub(super) order: &'static str,
    /// Set with the lease when a row is claimed (`, status = 'sending'`).
    pub(super) on_claim: &'static str,
    /// Set when a claimed row is given back (`, status = 'queued'`).
    pub(super) on_release: &'static str,
    /// Set when a row is given up on: its domain state closed (`{now}` is
    /// the instant; a column set here reads its value from before the update).
    pub(super) on_bury: &'static str,
    /// Set when an operator revives a dead row: its domain state open again.
    pub(super) on_revive: &'static str,
    /// Columns the claim returns for the queue's own record.
    pub(super) returning: &'static str,
}

#[derive(Debug, Clone, Copy)]
pub enum KeyType {
    Int,
    Text,
}

/// One key value of a claimed row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Key {
    Int(i64),
    Text(String),
}

/// A row this node holds until `lease` (the token every later write checks).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    pub queue: &'static str,
    pub key: Vec<Key>,
    pub lease: i64,
    /// This one included.
    pub attempts: u32,
}

/// A row given up on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadJob {
    pub queue: &'static str,
    pub key: Vec<Key>,
    pub attempts: u32,
    pub reason: String,
    pub dead_at: DateTime<Utc>,
}

/// How a queue stands: rows with work left, of which held by a node now,
/// due now, given up on, and the due time of the oldest due row.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct QueueStats {
    pub open: i64,
    pub running: i64,
    pub due: i64,
    pub dead: i64,
    pub oldest_due: Option<DateTime<Utc>>,
}

impl Queue {
    /// The kinds of its key's parts.
    pub fn key_types(&self) -> Vec<KeyType> {
        self.key.iter().map(|(_, t)| *t).collect()
    }

    /// `id`, or `(a, b)` for a composite key.
    fn key_list(&self) -> String {
        let cols: Vec<&str> = self.key.iter().map(|(c, _)| *c).collect();
        if cols.len() == 1 { cols[0].to_string() } else { format!("({})", cols.join(", ")) }
    }

    fn read_key(&self, row: &AnyRow) -> Result<Vec<Key>> {
        self.key
            .iter()
            .map(|(c, t)| {
                Ok(match t {
                    KeyType::Int => Key::Int(row.try_get(*c)?),
                    KeyType::Text => Key::Text(row.try_get(*c)?),
                })
            })
            .collect()
    }

    /// `key = $n AND … AND lease = $m`: the claimed row, still this claim's.
    fn fenced(&self, s: &mut Statement, claim: &Claim) -> String {
        let mut parts = self.keyed(s, &claim.key);
        parts.push_str(&format!(" AND {} = {}", self.lease, s.arg(claim.lease)));
        parts
    }

    fn keyed(&self, s: &mut Statement, key: &[Key]) -> String {
        self.key
            .iter()
            .zip(key)
            .map(|((c, _), v)| {
                let p = match v {
                    Key::Int(i) => s.arg(*i),
                    Key::Text(t) => s.arg(t.clone()),
                };
                format!("{c} = {p}")
            })
            .collect::<Vec<_>>()
            .join(" AND ")
    }
}

impl Store {
    /// Leases the queue's next due row until `lease_until`, counting an
    /// attempt: the earliest by the queue's order among open rows that are
    /// due, not held by a live lease, not given up on, and with no row of
    /// its sequence that must go first. `None` when nothing is due.
    pub(super) async fn claim_job(&self, q: &Queue, now: DateTime<Utc>, lease_until: DateTime<Utc>) -> Result<Option<(Claim, AnyRow)>> {
        match (self.backend, q.sequence) {
            (super::Backend::Postgres, Some(sequence)) => self.claim_sequence_head(q, sequence, now, lease_until).await,
            _ => self.claim_first(q, now, lease_until, None).await,
        }
    }

    /// One statement: the first claimable row, or (`only`) that row if it is
    /// claimable, given its key and its sequence's values.
    async fn claim_first(
        &self,
        q: &Queue,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        only: Option<(i64, &[String])>,
    ) -> Result<Option<(Claim, AnyRow)>> {
        let (t, lease) = (q.table, q.lease);
        let mut s = Statement::new("");
        let until = s.arg(to_ts(lease_until));
        let now_p = s.arg(to_ts(now));
        let free = format!("COALESCE({t}.{lease}, 0) <= {now_p} AND {t}.dead_at IS NULL");
        // Inside `FROM {t} e`, `open`'s unqualified columns are the other row's.
        let before = match (q.sequence, only) {
            (None, _) => String::new(),
            (Some(cols), None) => {
                let same: Vec<String> = cols.iter().map(|c| format!("e.{c} = {t}.{c}")).collect();
                format!(
                    "AND NOT EXISTS (SELECT 1 FROM {t} e WHERE {} AND {} AND e.{k} < {t}.{k})",
                    same.join(" AND "),
                    q.open,
                    k = q.key[0].0
                )
            }
            (Some(cols), Some((id, values))) => {
                let same: Vec<String> = cols.iter().zip(values).map(|(c, v)| format!("e.{c} = {}", s.arg(v.clone()))).collect();
                let k = q.key[0].0;
                let (a, b) = (s.arg(id), s.arg(id));
                format!(
                    "AND {t}.{k} = {a} AND NOT EXISTS (SELECT 1 FROM {t} e WHERE {} AND {} AND e.{k} < {b})",
                    same.join(" AND "),
                    q.open
                )
            }
        };
        // PostgreSQL: skip the rows another node is claiming at this instant
        // rather than queue behind their lock to find them taken (with a
        // join, only the queue's rows are locked). SQLite has one writer and
        // no row locks, but its planner, given a due-time condition, may
        // prefer a `(due, id)` index and sort every due row (25 ms a claim
        // with 22,000 replies queued) over walking the open rows in order and
        // stopping at the first (0.1 ms): the queue's index is named.
        let (index, lock) = match self.backend {
            super::Backend::Sqlite => (q.index.map(|i| format!("INDEXED BY {i}")).unwrap_or_default(), String::new()),
            super::Backend::Postgres => {
                (String::new(), if q.join.is_some() { format!("FOR UPDATE OF {t} SKIP LOCKED") } else { "FOR UPDATE SKIP LOCKED".into() })
            }
        };
        let sql = format!(
            "UPDATE {t} SET {lease} = {until}, {attempts} = {attempts} + 1 {on_claim} \
             WHERE {key} = (SELECT {inner_key} FROM {t} {index} {join} \
                 WHERE {open} AND {t}.{run_at} <= {now_p} AND {free} {before} ORDER BY {order} LIMIT 1 {lock}) \
               AND {open} AND COALESCE({lease}, 0) <= {now_p} AND dead_at IS NULL \
             RETURNING {key_cols}, {lease} AS job_lease, {attempts} AS job_attempts, {returning}",
            attempts = q.attempts,
            on_claim = q.on_claim,
            key = q.key_list(),
            inner_key = q.key.iter().map(|(c, _)| format!("{t}.{c}")).collect::<Vec<_>>().join(", "),
            join = q.join.unwrap_or_default(),
            open = q.open,
            run_at = q.run_at,
            order = q.order,
            key_cols = q.key.iter().map(|(c, _)| *c).collect::<Vec<_>>().join(", "),
            returning = q.returning,
        );
        s.push(&sql);
        let Some(row) = s.fetch_rows(&self.pool).await?.into_iter().next() else { return Ok(None) };
        let claim = Claim {
            queue: q.name,
            key: q.read_key(&row)?,
            lease: row.try_get("job_lease")?,
            attempts: row.try_get::<i64, _>("job_attempts")?.max(0) as u32,
        };
        Ok(Some((claim, row)))
    }

    /// PostgreSQL, a sequenced queue: the open rows are walked in key order
    /// by their partial index, a page at a time, and the first row of each
    /// sequence met (its head: no open row of it comes before) is tried,
    /// if due and free, until one is claimed. Done as one statement, the
    /// planner's choice follows its statistics: measured with statistics
    /// taken while nothing waited (a quiet day, or none at all with
    /// autovacuum off), it sorted every waiting row and probed each one's
    /// sequence, 11 ms a claim with 3,000 messages waiting and 1.5 s with
    /// the probe unindexed: a backlog after an outage drained in quadratic
    /// time. Walking the index has one plan whatever the statistics.
    async fn claim_sequence_head(
        &self,
        q: &Queue,
        sequence: &[&str],
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> Result<Option<(Claim, AnyRow)>> {
        let (t, k) = (q.table, q.key[0].0);
        let now_ts = to_ts(now);
        let mut met: std::collections::HashSet<Vec<String>> = std::collections::HashSet::new();
        let (mut after, mut page) = (None::<i64>, 128_i64);
        loop {
            let mut s = Statement::new("");
            let from = after.map(|a| format!("AND {k} > {}", s.arg(a))).unwrap_or_default();
            let limit = s.arg(page);
            s.push(&format!(
                "SELECT {k} AS job_key, {cols}, {run} AS job_run_at, COALESCE({lease}, 0) AS job_held \
                 FROM {t} WHERE {open} {from} ORDER BY {k} LIMIT {limit}",
                cols = sequence.join(", "),
                run = q.run_at,
                lease = q.lease,
                open = q.open,
            ));
            let rows = s.fetch_rows(&self.pool).await?;
            for row in &rows {
                let id: i64 = row.try_get("job_key")?;
                after = Some(id);
                let values = sequence.iter().map(|c| row.try_get::<String, _>(*c)).collect::<std::result::Result<Vec<_>, _>>()?;
                if !met.insert(values.clone()) {
                    continue; // an earlier row of its sequence is open
                }
                if row.try_get::<i64, _>("job_run_at")? > now_ts || row.try_get::<i64, _>("job_held")? > now_ts {
                    continue; // its sequence waits for it
                }
                if let Some(claimed) = self.claim_first(q, now, lease_until, Some((id, &values))).await? {
                    return Ok(Some(claimed));
                }
            }
            if (rows.len() as i64) < page {
                return Ok(None);
            }
            page = (page * 2).min(4096);
        }
    }

    /// Extends a claim's lease to `until` (a long job's heartbeat). `false`:
    /// the claim is no longer this node's, and its work must stop.
    pub async fn renew_job(&self, q: &Queue, claim: &mut Claim, until: DateTime<Utc>) -> Result<bool> {
        let mut s = Statement::new("");
        let new = s.arg(to_ts(until));
        let fenced = q.fenced(&mut s, claim);
        s.push(&format!("UPDATE {} SET {} = {new} WHERE {fenced}", q.table, q.lease));
        let renewed = s.execute(&self.pool).await? == 1;
        if renewed {
            claim.lease = to_ts(until);
        }
        Ok(renewed)
    }

    /// Gives a claimed row back, due at `at`: a failed attempt (its error
    /// kept for staff and operators) or, `counted` false, a wait that was
    /// not an attempt (quiet hours, a sending number's pace). `false`: the
    /// claim was lost meanwhile and nothing was written.
    pub async fn release_job(&self, q: &Queue, claim: &Claim, at: DateTime<Utc>, error: Option<&str>, counted: bool) -> Result<bool> {
        let mut s = Statement::new("");
        let at_p = s.arg(to_ts(at));
        let mut sets = format!("{} = {at_p}, {} = 0 {}", q.run_at, q.lease, q.on_release);
        if let Some(e) = error {
            sets.push_str(&format!(", {} = {}", q.error, s.arg(e.to_string())));
        }
        if !counted {
            sets.push_str(&format!(", {a} = {a} - 1", a = q.attempts));
        }
        let fenced = q.fenced(&mut s, claim);
        s.push(&format!("UPDATE {} SET {sets} WHERE {fenced}", q.table));
        Ok(s.execute(&self.pool).await? == 1)
    }

    /// Gives up on a claimed row: closed in its domain (`on_bury`) and kept
    /// in the dead-letter state with `reason`, inside the caller's
    /// transaction when given. `false`: the claim was lost meanwhile.
    pub async fn bury_job(&self, q: &Queue, claim: &Claim, reason: &str, now: DateTime<Utc>) -> Result<bool> {
        let mut conn = self.pool.acquire().await?;
        Store::bury_job_in(&mut conn, q, claim, reason, now).await
    }

    pub(super) async fn bury_job_in(
        conn: &mut sqlx::AnyConnection,
        q: &Queue,
        claim: &Claim,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        let mut s = Statement::new("");
        let (r, n) = (s.arg(reason.to_string()), s.arg(to_ts(now)));
        let fenced = q.fenced(&mut s, claim);
        let on_bury = q.on_bury.replace("{now}", &n);
        s.push(&format!("UPDATE {} SET dead_at = {n}, {} = {r}, {} = 0 {on_bury} WHERE {fenced}", q.table, q.error, q.lease));
        Ok(s.execute(conn).await? == 1)
    }

    /// The queue's dead rows, latest first.
    pub async fn dead_jobs(&self, q: &Queue, limit: i64) -> Result<Vec<DeadJob>> {
        let mut s = Statement::new("");
        let l = s.arg(limit);
        s.push(&format!(
            "SELECT {keys}, {a} AS job_attempts, COALESCE({e}, '') AS job_error, dead_at FROM {t} WHERE dead_at IS NOT NULL \
             ORDER BY dead_at DESC LIMIT {l}",
            keys = q.key.iter().map(|(c, _)| *c).collect::<Vec<_>>().join(", "),
            a = q.attempts,
            e = q.error,
            t = q.table,
        ));
        s.fetch_rows(&self.pool)
            .await?
            .iter()
            .map(|row| {
                Ok(DeadJob {
                    queue: q.name,
                    key: q.read_key(row)?,
                    attempts: row.try_get::<i64, _>("job_attempts")?.max(0) as u32,
                    reason: row.try_get("job_error")?,
                    dead_at: from_ts(row.try_get("dead_at")?)?,
                })
            })
            .collect()
    }

    /// An operator gives a dead row another life: open again, due at `now`,
    /// with its attempts counted from zero. `false`: no such dead row.
    pub async fn revive_job(&self, q: &Queue, key: &[Key], now: DateTime<Utc>) -> Result<bool> {
        let mut s = Statement::new("");
        let n = s.arg(to_ts(now));
        let keyed = q.keyed(&mut s, key);
        s.push(&format!(
            "UPDATE {t} SET dead_at = NULL, {run} = {n}, {lease} = 0, {a} = 0 {revive} WHERE {keyed} AND dead_at IS NOT NULL",
            t = q.table,
            run = q.run_at,
            lease = q.lease,
            a = q.attempts,
            revive = q.on_revive,
        ));
        Ok(s.execute(&self.pool).await? == 1)
    }

    /// How the queue stands at `now`.
    pub async fn queue_stats(&self, q: &Queue, now: DateTime<Utc>) -> Result<QueueStats> {
        let mut s = Statement::new("");
        let n = s.arg(to_ts(now));
        s.push(&format!(
            "SELECT COUNT(*) AS open, \
               COALESCE(SUM(CASE WHEN COALESCE({lease}, 0) > {n} THEN 1 ELSE 0 END), 0) AS running, \
               COALESCE(SUM(CASE WHEN COALESCE({lease}, 0) <= {n} AND {run} <= {n} THEN 1 ELSE 0 END), 0) AS due, \
               MIN(CASE WHEN COALESCE({lease}, 0) <= {n} AND {run} <= {n} THEN {run} END) AS oldest, \
               (SELECT COUNT(*) FROM {t} WHERE dead_at IS NOT NULL) AS dead \
             FROM {t} WHERE {open} AND dead_at IS NULL",
            lease = q.lease,
            run = q.run_at,
            t = q.table,
            open = q.open,
        ));
        let row = s.fetch_rows(&self.pool).await?.into_iter().next();
        let Some(row) = row else { return Ok(QueueStats::default()) };
        Ok(QueueStats {
            open: row.try_get("open")?,
            running: row.try_get("running")?,
            due: row.try_get("due")?,
            dead: row.try_get("dead")?,
            oldest_due: row.try_get::<Option<i64>, _>("oldest")?.map(from_ts).transpose()?,
        })
    }
}

impl Store {
    /// A claimed row's attempt failed with `error`: due again when `policy`
    /// says, or given up on into the dead-letter state. Returns which.
    pub async fn job_failed(
        &self,
        q: &Queue,
        claim: &Claim,
        policy: crate::retry::Backoff,
        created_at: DateTime<Utc>,
        error: &str,
        now: DateTime<Utc>,
    ) -> Result<crate::retry::Next> {
        let next = policy.next(claim.attempts, created_at, now, None, rand::random());
        match next {
            crate::retry::Next::RetryAt(at) => {
                tracing::warn!(queue = q.name, attempt = claim.attempts, error, "job failed; will retry");
                self.release_job(q, claim, at, Some(error), true).await?;
            }
            crate::retry::Next::GiveUp => {
                tracing::error!(queue = q.name, attempts = claim.attempts, error, "job given up: in the dead-letter state");
                self.bury_job(q, claim, error, now).await?;
            }
        }
        Ok(next)
    }
}

/// Every leased queue, for operators (`nuru jobs`, `/metrics`).
pub fn queues() -> [&'static Queue; 8] {
    [
        &super::INBOUND,
        &super::OUTBOUND,
        &super::REMINDERS,
        &super::FEEDBACK,
        &super::BROADCAST_RECIPIENTS,
        &super::CALENDAR_WRITES,
        &super::GOOGLE_SYNCS,
        &super::DOCUMENT_READS,
    ]
}

/// The queue named `name`.
pub fn queue(name: &str) -> Option<&'static Queue> {
    queues().into_iter().find(|q| q.name == name)
}

impl Store {
    /// How many jobs each queue has given up on.
    pub async fn dead_counts(&self) -> Result<Vec<(&'static str, i64)>> {
        let mut counts = Vec::new();
        for q in queues() {
            let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM {} WHERE dead_at IS NOT NULL", q.table)))
                .fetch_one(&self.pool)
                .await?;
            counts.push((q.name, n));
        }
        Ok(counts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A sequence is walked by its one integer key, in key order, and the
    /// other row of a sequence is told apart by the open predicate read on it.
    #[test]
    fn sequenced_queues_have_one_integer_key_that_is_their_order() {
        for q in queues() {
            let Some(cols) = q.sequence else { continue };
            assert!(!cols.is_empty(), "{}", q.name);
            assert!(matches!(q.key, [(_, KeyType::Int)]), "{}: one integer key", q.name);
            assert_eq!(q.order, format!("{}.{}", q.table, q.key[0].0), "{}: ordered by its key", q.name);
            assert!(q.join.is_none(), "{}: the walk reads the queue's table alone", q.name);
        }
    }
}
