//! Statements whose conditions depend on which filters a caller gave.
//!
//! A filter that is absent is left out of the SQL rather than written as a
//! condition that is always true for a sentinel value (`$2 < 0 OR …`,
//! `$4 = ''`): the statement says what it filters on, and the planner sees it.
//! Placeholders are numbered `$n`, which SQLite and PostgreSQL both read
//! (sqlx's `QueryBuilder` writes `?` for the `Any` driver, which PostgreSQL
//! rejects).

use super::{Result, StorageError};
use chrono::{DateTime, TimeZone, Utc};
use sqlx::any::{Any, AnyArguments, AnyRow, AnyTypeInfo, AnyValueRef};
use sqlx::error::BoxDynError;
use sqlx::{Arguments, Decode, Encode, FromRow, Type};

/// An instant stored as UTC epoch seconds. Record fields read it with
/// `#[sqlx(try_from = "Epoch")] at: DateTime<Utc>`.
pub(super) struct Epoch(DateTime<Utc>);

impl Type<Any> for Epoch {
    fn type_info() -> AnyTypeInfo {
        <i64 as Type<Any>>::type_info()
    }

    fn compatible(ty: &AnyTypeInfo) -> bool {
        <i64 as Type<Any>>::compatible(ty)
    }
}

impl<'r> Decode<'r, Any> for Epoch {
    fn decode(value: AnyValueRef<'r>) -> std::result::Result<Self, BoxDynError> {
        let secs = <i64 as Decode<Any>>::decode(value)?;
        Ok(Epoch(Utc.timestamp_opt(secs, 0).single().ok_or_else(|| format!("bad timestamp {secs}"))?))
    }
}

impl From<Epoch> for DateTime<Utc> {
    fn from(e: Epoch) -> Self {
        e.0
    }
}

#[derive(Default)]
pub(super) struct Statement {
    sql: String,
    args: AnyArguments,
    failed: Option<BoxDynError>,
}

impl Statement {
    pub fn new(head: impl Into<String>) -> Self {
        Statement { sql: head.into(), ..Default::default() }
    }

    /// Binds `value` and returns its placeholder.
    pub fn arg<T>(&mut self, value: T) -> String
    where
        T: for<'q> Encode<'q, Any> + Type<Any> + 'static,
    {
        if let Err(e) = self.args.add(value) {
            self.failed.get_or_insert(e);
        }
        format!("${}", self.args.len())
    }

    /// Appends SQL text.
    pub fn push(&mut self, sql: &str) -> &mut Self {
        self.sql.push(' ');
        self.sql.push_str(sql);
        self
    }

    /// Runs the statement and maps every row to a record.
    pub async fn fetch_all<'c, R, E>(self, executor: E) -> Result<Vec<R>>
    where
        R: for<'r> FromRow<'r, AnyRow> + Send + Unpin,
        E: sqlx::Executor<'c, Database = Any>,
    {
        if let Some(e) = self.failed {
            return Err(StorageError::Database(sqlx::Error::Encode(e)));
        }
        Ok(sqlx::query_as_with::<Any, R, _>(sqlx::AssertSqlSafe(self.sql), self.args).fetch_all(executor).await?)
    }

    /// Runs the statement for its effect; returns the rows it changed.
    pub async fn execute<'c, E>(self, executor: E) -> Result<u64>
    where
        E: sqlx::Executor<'c, Database = Any>,
    {
        if let Some(e) = self.failed {
            return Err(StorageError::Database(sqlx::Error::Encode(e)));
        }
        Ok(sqlx::query_with::<Any, _>(sqlx::AssertSqlSafe(self.sql), self.args).execute(executor).await?.rows_affected())
    }

    /// Runs the statement and returns the rows, for callers that already map rows.
    pub async fn fetch_rows<'c, E>(self, executor: E) -> Result<Vec<AnyRow>>
    where
        E: sqlx::Executor<'c, Database = Any>,
    {
        if let Some(e) = self.failed {
            return Err(StorageError::Database(sqlx::Error::Encode(e)));
        }
        Ok(sqlx::query_with::<Any, _>(sqlx::AssertSqlSafe(self.sql), self.args).fetch_all(executor).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_numbered_in_binding_order() {
        let mut s = Statement::new("SELECT 1 FROM t WHERE a = $1");
        s.arg(1_i64);
        let b = s.arg("x".to_string());
        s.push(&format!("AND b = {b}"));
        assert_eq!(b, "$2");
        assert!(s.sql.ends_with("AND b = $2"));
        assert_eq!(s.args.len(), 2);
    }
}
