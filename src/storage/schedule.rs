//! Scheduling data: holidays, exceptions, outside busy time and the occupancy
//! the slot engine reads (one query per kind for a whole search, whatever the
//! number of days or practitioners).

use super::clinics::{minute, weekday_from_number};
use super::{Result, StorageError, Store, Tx, from_ts, parse_id, to_ts};
use crate::domain::*;
use chrono::{DateTime, NaiveDate, Utc};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

fn parse_day(s: &str) -> Result<NaiveDate> {
    s.parse().map_err(|_| StorageError::Corrupt(format!("bad date {s}")))
}

fn exception_from_row(row: &AnyRow) -> Result<AvailabilityException> {
    let kind: String = row.try_get("kind")?;
    let recurrence: String = row.try_get("recurrence")?;
    let practitioner: Option<String> = row.try_get("practitioner_id")?;
    let day = |col: &str| -> Result<NaiveDate> {
        let s: Option<String> = row.try_get(col)?;
        parse_day(&s.ok_or_else(|| StorageError::Corrupt(format!("exception without {col}")))?)
    };
    let int = |col: &str| -> Result<i64> {
        row.try_get::<Option<i64>, _>(col)?.ok_or_else(|| StorageError::Corrupt(format!("exception without {col}")))
    };
    let time = match recurrence.as_str() {
        "once" => ExceptionTime::Once { start: from_ts(int("starts_at")?)?, end: from_ts(int("ends_at")?)? },
        "days" => ExceptionTime::Days { first: day("first_day")?, last: day("last_day")? },
        "weekly" => ExceptionTime::Weekly {
            weekday: weekday_from_number(int("weekday")?)?,
            start_minute: minute(int("start_minute")?)?,
            end_minute: minute(int("end_minute")?)?,
            from: day("first_day")?,
            until: row.try_get::<Option<String>, _>("last_day")?.map(|s| parse_day(&s)).transpose()?,
        },
        other => return Err(StorageError::Corrupt(format!("bad recurrence {other}"))),
    };
    Ok(AvailabilityException {
        id: parse_id(&row.try_get::<String, _>("id")?, ExceptionId::parse)?,
        practitioner_id: practitioner.map(|p| parse_id(&p, PractitionerId::parse)).transpose()?,
        kind: ExceptionKind::parse(&kind).ok_or_else(|| StorageError::Corrupt(format!("bad exception kind {kind}")))?,
        reason: row.try_get("reason")?,
        time,
    })
}

impl Store {
    pub async fn holidays(&self, clinic: ClinicId) -> Result<Vec<Holiday>> {
        sqlx::query("SELECT day, name FROM clinic_holidays WHERE clinic_id = $1 ORDER BY day")
            .bind(clinic.to_string())
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|row| Ok(Holiday { date: parse_day(&row.try_get::<String, _>("day")?)?, name: row.try_get("name")? }))
            .collect()
    }

    pub(super) async fn replace_holidays(tx: &mut Tx, clinic: ClinicId, holidays: &[Holiday]) -> Result<()> {
        Self::touch_catalog(tx, clinic).await?;
        sqlx::query("DELETE FROM clinic_holidays WHERE clinic_id = $1").bind(clinic.to_string()).execute(&mut **tx).await?;
        for h in holidays {
            sqlx::query("INSERT INTO clinic_holidays (clinic_id, day, name) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING")
                .bind(clinic.to_string())
                .bind(h.date.to_string())
                .bind(&h.name)
                .execute(&mut **tx)
                .await?;
        }
        Ok(())
    }

    /// Every exception of the clinic (admins see the reasons; patients never do).
    pub async fn exceptions(&self, clinic: ClinicId) -> Result<Vec<AvailabilityException>> {
        sqlx::query(
            "SELECT id, practitioner_id, kind, reason, recurrence, starts_at, ends_at, first_day, last_day, weekday, \
               start_minute, end_minute FROM availability_exceptions WHERE clinic_id = $1 ORDER BY created_at, id",
        )
        .bind(clinic.to_string())
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(exception_from_row)
        .collect()
    }

    pub(super) async fn insert_exception(tx: &mut Tx, clinic: ClinicId, e: &AvailabilityException, now: i64) -> Result<()> {
        Self::touch_catalog(tx, clinic).await?;
        let (mut starts, mut ends, mut first, mut last, mut weekday, mut smin, mut emin) = (None, None, None, None, None, None, None);
        let recurrence = match &e.time {
            ExceptionTime::Once { start, end } => {
                (starts, ends) = (Some(to_ts(*start)), Some(to_ts(*end)));
                "once"
            }
            ExceptionTime::Days { first: a, last: b } => {
                (first, last) = (Some(a.to_string()), Some(b.to_string()));
                "days"
            }
            ExceptionTime::Weekly { weekday: d, start_minute, end_minute, from, until } => {
                (first, last) = (Some(from.to_string()), until.map(|u| u.to_string()));
                (weekday, smin, emin) = (Some(d.number_from_monday() as i64), Some(*start_minute as i64), Some(*end_minute as i64));
                "weekly"
            }
        };
        sqlx::query(
            "INSERT INTO availability_exceptions (id, clinic_id, practitioner_id, kind, reason, recurrence, starts_at, ends_at, \
               first_day, last_day, weekday, start_minute, end_minute, created_at) \
             VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14)",
        )
        .bind(e.id.to_string())
        .bind(clinic.to_string())
        .bind(e.practitioner_id.map(|p| p.to_string()))
        .bind(e.kind.as_str())
        .bind(&e.reason)
        .bind(recurrence)
        .bind(starts)
        .bind(ends)
        .bind(first)
        .bind(last)
        .bind(weekday)
        .bind(smin)
        .bind(emin)
        .bind(now)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    /// Adds one exception (the admin API's path; the time it blocks is freed
    /// or taken at once for every later search).
    pub async fn add_exception(
        &self,
        clinic: ClinicId,
        e: &AvailabilityException,
        audit: &super::NewAuditEvent<'_>,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        Self::insert_exception(&mut tx, clinic, e, to_ts(now)).await?;
        Self::audit_in(&mut tx, audit, now).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Replaces the outside busy time of one practitioner from one source in
    /// `span` (what a calendar sync does), at `now`.
    pub async fn replace_external_busy(
        &self,
        clinic: ClinicId,
        practitioner: PractitionerId,
        source: &str,
        span: std::ops::Range<DateTime<Utc>>,
        intervals: &[(String, DateTime<Utc>, DateTime<Utc>)],
        now: DateTime<Utc>,
    ) -> Result<()> {
        let (from, to) = (span.start, span.end);
        let mut tx = self.begin().await?;
        sqlx::query(
            "DELETE FROM external_busy WHERE clinic_id = $1 AND practitioner_id = $2 AND source = $3 AND starts_at < $5 AND ends_at > $4",
        )
        .bind(clinic.to_string())
        .bind(practitioner.to_string())
        .bind(source)
        .bind(to_ts(from))
        .bind(to_ts(to))
        .execute(&mut *tx)
        .await?;
        for (external_id, start, end) in intervals.iter().filter(|(_, s, e)| e > s) {
            sqlx::query(
                "INSERT INTO external_busy (id, clinic_id, practitioner_id, source, external_id, starts_at, ends_at, updated_at) \
                 VALUES ($1,$2,$3,$4,$5,$6,$7,$8) ON CONFLICT (practitioner_id, source, external_id) \
                 DO UPDATE SET starts_at = excluded.starts_at, ends_at = excluded.ends_at, updated_at = excluded.updated_at",
            )
            .bind(uuid::Uuid::new_v4().to_string())
            .bind(clinic.to_string())
            .bind(practitioner.to_string())
            .bind(source)
            .bind(external_id)
            .bind(to_ts(*start))
            .bind(to_ts(*end))
            .bind(to_ts(now))
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The time taken in `[from, to)`: booked appointments (with their
    /// buffers) and outside busy time, of the whole clinic or one practitioner.
    /// Two queries, whatever the range.
    pub async fn occupancy(&self, clinic: ClinicId, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<Occupancy> {
        let mut conn = self.pool.acquire().await?;
        Self::occupancy_in(&mut conn, clinic, None, from, to).await
    }

    pub(super) async fn occupancy_in(
        conn: &mut AnyConnection,
        clinic: ClinicId,
        practitioner: Option<PractitionerId>,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Occupancy> {
        let statement = |head: &str, starts_after: Option<i64>| {
            let mut q = super::sql::Statement::new(head);
            q.arg(clinic.to_string());
            q.arg(to_ts(from));
            q.arg(to_ts(to));
            if let Some(t) = starts_after {
                let t = q.arg(t);
                q.push(&format!("AND blocked_from >= {t}"));
            }
            if let Some(p) = practitioner {
                let p = q.arg(p.to_string());
                q.push(&format!("AND practitioner_id = {p}"));
            }
            q
        };
        // Each kind comes back as one row, its intervals packed into one
        // text (`group_concat` / `string_agg`): through sqlx's `Any` driver
        // every row costs about 5 µs on SQLite (it crosses from SQLite's
        // thread through a channel and is copied into an `AnyRow`), and a
        // busy clinic's week is a thousand appointments; unpacking the text
        // costs a small fraction of that (`cargo bench --bench slots`).
        let aggregate = if conn.backend_name().eq_ignore_ascii_case("postgresql") { "string_agg" } else { "group_concat" };
        // No appointment blocks longer than MAX_BLOCKED_MINUTES: bounding
        // its start from below lets the index read the range, not every
        // appointment since the clinic opened.
        let earliest = to_ts(from - chrono::Duration::minutes(crate::domain::MAX_BLOCKED_MINUTES));
        let booked = statement(
            &format!(
                "SELECT {aggregate}(id || ',' || practitioner_id || ',' || starts_at || ',' || ends_at || ',' || blocked_from \
                   || ',' || blocked_until, ';') AS packed FROM appointments \
                 WHERE clinic_id = $1 AND status = 'booked' AND blocked_from < $3 AND blocked_until > $2"
            ),
            Some(earliest),
        )
        .fetch_all::<PackedRecord, _>(&mut *conn)
        .await?;
        let booked = unpack(&booked, 6, |f| {
            Ok(BookedTime {
                appointment_id: parse_id(f[0], AppointmentId::parse)?,
                practitioner_id: parse_id(f[1], PractitionerId::parse)?,
                start: packed_instant(f[2])?,
                end: packed_instant(f[3])?,
                blocked_from: packed_instant(f[4])?,
                blocked_until: packed_instant(f[5])?,
            })
        })?;
        let external = statement(
            &format!(
                "SELECT {aggregate}(practitioner_id || ',' || starts_at || ',' || ends_at, ';') AS packed FROM external_busy \
                 WHERE clinic_id = $1 AND starts_at < $3 AND ends_at > $2"
            ),
            None,
        )
        .fetch_all::<PackedRecord, _>(&mut *conn)
        .await?;
        let external = unpack(&external, 3, |f| {
            Ok(BusyInterval {
                practitioner_id: parse_id(f[0], PractitionerId::parse)?,
                start: packed_instant(f[1])?,
                end: packed_instant(f[2])?,
            })
        })?;
        Ok(Occupancy { booked, external })
    }
}

/// Intervals packed into one text: `;` between intervals, `,` between fields.
#[derive(sqlx::FromRow)]
struct PackedRecord {
    packed: Option<String>,
}

/// The intervals of packed rows, each split into its `fields` fields.
fn unpack<T>(rows: &[PackedRecord], fields: usize, each: impl Fn(&[&str]) -> Result<T>) -> Result<Vec<T>> {
    let mut out = Vec::new();
    let mut parts: Vec<&str> = Vec::with_capacity(fields);
    for packed in rows.iter().filter_map(|r| r.packed.as_deref()).filter(|p| !p.is_empty()) {
        for interval in packed.split(';') {
            parts.clear();
            parts.extend(interval.split(','));
            if parts.len() != fields {
                return Err(StorageError::Corrupt(format!("packed interval with {} fields", parts.len())));
            }
            out.push(each(&parts)?);
        }
    }
    Ok(out)
}

fn packed_instant(s: &str) -> Result<DateTime<Utc>> {
    s.parse::<i64>().ok().and_then(|t| from_ts(t).ok()).ok_or_else(|| StorageError::Corrupt(format!("bad packed instant {s}")))
}

impl Store {
    pub async fn delete_exception(
        &self,
        clinic: ClinicId,
        id: ExceptionId,
        audit: &super::NewAuditEvent<'_>,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        let mut tx = self.begin().await?;
        let done = sqlx::query("DELETE FROM availability_exceptions WHERE id = $1 AND clinic_id = $2")
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

    /// Replaces the clinic's public holidays.
    pub async fn set_holidays(
        &self,
        clinic: ClinicId,
        holidays: &[Holiday],
        audit: &super::NewAuditEvent<'_>,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        Self::replace_holidays(&mut tx, clinic, holidays).await?;
        Self::audit_in(&mut tx, audit, now).await?;
        tx.commit().await?;
        Ok(())
    }
}
