//! Admin API accounts: users, clinic memberships, refresh tokens, audit events.

use super::{Result, StorageError, Store, from_ts, parse_id, to_ts};
use crate::domain::{ClinicId, PractitionerId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::Row;
use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClinicRole {
    /// Their own agenda only.
    Practitioner,
    /// Conversations: read, reply, release; appointments.
    Staff,
    /// Everything about the clinic.
    ClinicAdmin,
}

impl ClinicRole {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Practitioner => "practitioner",
            Self::Staff => "staff",
            Self::ClinicAdmin => "clinic_admin",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "practitioner" => Self::Practitioner,
            "staff" => Self::Staff,
            "clinic_admin" => Self::ClinicAdmin,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone)]
pub struct UserRow {
    pub id: Uuid,
    pub email: String,
    /// Redacted in `Debug`.
    pub password_hash: crate::secrets::Secret<String>,
    pub superadmin: bool,
    pub active: bool,
    pub failed_logins: i64,
    pub locked_until: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Membership {
    pub clinic_id: ClinicId,
    pub role: ClinicRole,
    pub practitioner_id: Option<PractitionerId>,
}

#[derive(Debug, Clone)]
pub struct RefreshRow {
    pub id: Uuid,
    pub family_id: Uuid,
    pub user_id: Uuid,
    pub expires_at: DateTime<Utc>,
    pub used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// What happened, for the audit trail (never message text or patient data).
#[derive(Debug, Clone, Copy)]
pub struct NewAuditEvent<'a> {
    pub actor: Option<Uuid>,
    pub clinic: Option<ClinicId>,
    pub action: &'a str,
    pub resource: &'a str,
    pub resource_id: Option<&'a str>,
    pub outcome: &'a str,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AuditEvent {
    pub id: i64,
    #[sqlx(try_from = "super::sql::Epoch")]
    pub at: DateTime<Utc>,
    pub actor_user_id: Option<String>,
    pub clinic_id: Option<String>,
    pub action: String,
    pub resource: String,
    pub resource_id: Option<String>,
    pub outcome: String,
}

fn uuid(s: &str) -> Result<Uuid> {
    parse_id(s, Uuid::parse_str)
}

impl Store {
    pub async fn create_user(&self, email: &str, password_hash: &str, superadmin: bool, now: DateTime<Utc>) -> Result<Uuid> {
        let id = Uuid::new_v4();
        let done = sqlx::query(
            "INSERT INTO users (id, email, password_hash, superadmin, created_at, updated_at) VALUES ($1,$2,$3,$4,$5,$5) \
             ON CONFLICT (email) DO NOTHING",
        )
        .bind(id.to_string())
        .bind(email.to_lowercase())
        .bind(password_hash)
        .bind(superadmin as i64)
        .bind(to_ts(now))
        .execute(&self.pool)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StorageError::Conflict("email"));
        }
        Ok(id)
    }

    pub async fn add_membership(&self, user: Uuid, m: &Membership, now: DateTime<Utc>) -> Result<()> {
        sqlx::query(
            "INSERT INTO memberships (user_id, clinic_id, role, practitioner_id, created_at) VALUES ($1,$2,$3,$4,$5) \
             ON CONFLICT (user_id, clinic_id) DO UPDATE SET role = excluded.role, practitioner_id = excluded.practitioner_id",
        )
        .bind(user.to_string())
        .bind(m.clinic_id.to_string())
        .bind(m.role.as_str())
        .bind(m.practitioner_id.map(|p| p.to_string()))
        .bind(to_ts(now))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    fn user_from_row(row: &sqlx::any::AnyRow) -> Result<UserRow> {
        Ok(UserRow {
            id: uuid(&row.try_get::<String, _>("id")?)?,
            email: row.try_get("email")?,
            password_hash: crate::secrets::Secret::new(row.try_get("password_hash")?),
            superadmin: row.try_get::<i64, _>("superadmin")? != 0,
            active: row.try_get::<i64, _>("active")? != 0,
            failed_logins: row.try_get("failed_logins")?,
            locked_until: row.try_get::<Option<i64>, _>("locked_until")?.map(from_ts).transpose()?,
        })
    }

    pub async fn user_by_email(&self, email: &str) -> Result<Option<UserRow>> {
        let row =
            sqlx::query("SELECT id, email, password_hash, superadmin, active, failed_logins, locked_until FROM users WHERE email = $1")
                .bind(email.to_lowercase())
                .fetch_optional(&self.pool)
                .await?;
        row.as_ref().map(Self::user_from_row).transpose()
    }

    pub async fn user(&self, id: Uuid) -> Result<Option<UserRow>> {
        let row = sqlx::query("SELECT id, email, password_hash, superadmin, active, failed_logins, locked_until FROM users WHERE id = $1")
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(Self::user_from_row).transpose()
    }

    pub async fn login_succeeded(&self, id: Uuid) -> Result<()> {
        sqlx::query("UPDATE users SET failed_logins = 0, locked_until = NULL WHERE id = $1")
            .bind(id.to_string())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn memberships(&self, user: Uuid) -> Result<Vec<Membership>> {
        sqlx::query("SELECT clinic_id, role, practitioner_id FROM memberships WHERE user_id = $1 ORDER BY clinic_id")
            .bind(user.to_string())
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|row| {
                let role: String = row.try_get("role")?;
                Ok(Membership {
                    clinic_id: parse_id(&row.try_get::<String, _>("clinic_id")?, ClinicId::parse)?,
                    role: ClinicRole::parse(&role).ok_or_else(|| StorageError::Corrupt(format!("bad role {role}")))?,
                    practitioner_id: row
                        .try_get::<Option<String>, _>("practitioner_id")?
                        .map(|p| parse_id(&p, PractitionerId::parse))
                        .transpose()?,
                })
            })
            .collect()
    }

    pub async fn insert_refresh_token(
        &self,
        family: Uuid,
        user: Uuid,
        token_hash: &str,
        expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<()> {
        sqlx::query("INSERT INTO refresh_tokens (id, family_id, user_id, token_hash, expires_at, created_at) VALUES ($1,$2,$3,$4,$5,$6)")
            .bind(Uuid::new_v4().to_string())
            .bind(family.to_string())
            .bind(user.to_string())
            .bind(token_hash)
            .bind(to_ts(expires_at))
            .bind(to_ts(now))
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn refresh_token(&self, token_hash: &str) -> Result<Option<RefreshRow>> {
        let row = sqlx::query("SELECT id, family_id, user_id, expires_at, used_at, revoked_at FROM refresh_tokens WHERE token_hash = $1")
            .bind(token_hash)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| {
            Ok(RefreshRow {
                id: uuid(&r.try_get::<String, _>("id")?)?,
                family_id: uuid(&r.try_get::<String, _>("family_id")?)?,
                user_id: uuid(&r.try_get::<String, _>("user_id")?)?,
                expires_at: from_ts(r.try_get("expires_at")?)?,
                used_at: r.try_get::<Option<i64>, _>("used_at")?.map(from_ts).transpose()?,
                revoked_at: r.try_get::<Option<i64>, _>("revoked_at")?.map(from_ts).transpose()?,
            })
        })
        .transpose()
    }

    /// Marks a refresh token used, only if it was not: false when someone used it first.
    pub async fn use_refresh_token(&self, id: Uuid, now: DateTime<Utc>) -> Result<bool> {
        let done = sqlx::query("UPDATE refresh_tokens SET used_at = $1 WHERE id = $2 AND used_at IS NULL AND revoked_at IS NULL")
            .bind(to_ts(now))
            .bind(id.to_string())
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// A sign-in (refresh-token family) was signed out, or revoked after a
    /// reused token: its access tokens are refused.
    pub async fn session_revoked(&self, family: Uuid) -> Result<bool> {
        let revoked = sqlx::query("SELECT 1 AS r FROM refresh_tokens WHERE family_id = $1 AND revoked_at IS NOT NULL LIMIT 1")
            .bind(family.to_string())
            .fetch_optional(&self.pool)
            .await?;
        Ok(revoked.is_some())
    }

    /// When a sign-in (refresh-token family) began: its first token.
    pub async fn session_started(&self, family: Uuid) -> Result<Option<DateTime<Utc>>> {
        let started: Option<i64> = sqlx::query_scalar("SELECT MIN(created_at) FROM refresh_tokens WHERE family_id = $1")
            .bind(family.to_string())
            .fetch_one(&self.pool)
            .await?;
        started.map(from_ts).transpose()
    }

    pub async fn revoke_refresh_family(&self, family: Uuid, now: DateTime<Utc>) -> Result<()> {
        sqlx::query("UPDATE refresh_tokens SET revoked_at = $1 WHERE family_id = $2 AND revoked_at IS NULL")
            .bind(to_ts(now))
            .bind(family.to_string())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn audit(&self, e: &NewAuditEvent<'_>, now: DateTime<Utc>) -> Result<()> {
        let mut conn = self.pool.acquire().await?;
        Self::audit_in(&mut conn, e, now).await
    }

    /// The audit row inside the transaction of the change it records: both
    /// are written, or neither.
    pub async fn audit_in(conn: &mut sqlx::AnyConnection, e: &NewAuditEvent<'_>, now: DateTime<Utc>) -> Result<()> {
        sqlx::query(
            "INSERT INTO audit_events (at, actor_user_id, clinic_id, action, resource, resource_id, outcome) VALUES ($1,$2,$3,$4,$5,$6,$7)",
        )
        .bind(to_ts(now))
        .bind(e.actor.map(|a| a.to_string()))
        .bind(e.clinic.map(|c| c.to_string()))
        .bind(e.action)
        .bind(e.resource)
        .bind(e.resource_id)
        .bind(e.outcome)
        .execute(&mut *conn)
        .await?;
        Ok(())
    }

    pub async fn audit_events(&self, clinic: Option<ClinicId>, limit: i64, before_id: Option<i64>) -> Result<Vec<AuditEvent>> {
        let q = newest_first(
            "SELECT id, at, actor_user_id, clinic_id, action, resource, resource_id, outcome FROM audit_events WHERE TRUE",
            clinic,
            limit,
            before_id,
        );
        q.fetch_all(&self.pool).await
    }
}

/// Events of one clinic (or all), newest first, `limit` before the event `before_id`.
fn newest_first(head: &str, clinic: Option<ClinicId>, limit: i64, before_id: Option<i64>) -> super::sql::Statement {
    let mut q = super::sql::Statement::new(head);
    if let Some(clinic) = clinic {
        let p = q.arg(clinic.to_string());
        q.push(&format!("AND clinic_id = {p}"));
    }
    if let Some(before) = before_id {
        let p = q.arg(before);
        q.push(&format!("AND id < {p}"));
    }
    let p = q.arg(limit);
    q.push(&format!("ORDER BY id DESC LIMIT {p}"));
    q
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SystemEvent {
    pub id: i64,
    #[sqlx(try_from = "super::sql::Epoch")]
    pub at: DateTime<Utc>,
    pub clinic_id: Option<String>,
    /// e.g. webhook_signature_invalid, send_failed, model_timeout.
    pub kind: String,
    pub detail: String,
}

impl Store {
    /// Records an operational event. The same kind for the same clinic is
    /// recorded at most once a minute, so a flood of forged webhooks cannot
    /// fill the table.
    pub async fn system_event(&self, clinic: Option<ClinicId>, kind: &str, detail: &str, now: DateTime<Utc>) -> Result<()> {
        let clinic = clinic.map(|c| c.to_string()).unwrap_or_default();
        sqlx::query(
            "INSERT INTO system_events (at, clinic_id, kind, detail) SELECT $1, NULLIF($2, ''), $3, $4 \
             WHERE NOT EXISTS (SELECT 1 FROM system_events WHERE COALESCE(clinic_id, '') = $2 AND kind = $3 AND at > $5)",
        )
        .bind(to_ts(now))
        .bind(clinic)
        .bind(kind)
        .bind(detail.chars().take(300).collect::<String>())
        .bind(to_ts(now) - 60)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn system_events(&self, clinic: Option<ClinicId>, limit: i64, before_id: Option<i64>) -> Result<Vec<SystemEvent>> {
        newest_first("SELECT id, at, clinic_id, kind, detail FROM system_events WHERE TRUE", clinic, limit, before_id)
            .fetch_all(&self.pool)
            .await
    }
}
