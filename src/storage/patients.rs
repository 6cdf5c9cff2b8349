use super::{Activity, NewAuditEvent, Result, StorageError, Store, parse_id, to_ts};
use crate::domain::*;
use chrono::{DateTime, NaiveDate, Utc};
use sqlx::AnyConnection;
use sqlx::Row;

impl Store {
    /// The patients linked to a phone number in this clinic (a family phone
    /// may have several), oldest link first.
    pub async fn patients_for_phone(&self, clinic: ClinicId, phone: &PhoneNumber) -> Result<Vec<Patient>> {
        sqlx::query(
            "SELECT p.id, p.first_name, p.last_name, p.birth_date, pp.relation FROM patients p \
             JOIN patient_phones pp ON pp.patient_id = p.id \
             WHERE pp.clinic_id = $1 AND pp.phone = $2 AND p.clinic_id = $1 ORDER BY pp.created_at, p.first_name, p.last_name, p.id",
        )
        .bind(clinic.to_string())
        .bind(phone.as_str())
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|row| {
            let birth: Option<String> = row.try_get("birth_date")?;
            Ok(Patient {
                id: parse_id(&row.try_get::<String, _>("id")?, PatientId::parse)?,
                clinic_id: clinic,
                first_name: row.try_get("first_name")?,
                last_name: row.try_get("last_name")?,
                birth_date: birth
                    .map(|b| NaiveDate::parse_from_str(&b, "%Y-%m-%d").map_err(|_| StorageError::Corrupt("bad birth date".into())))
                    .transpose()?,
                relation: row.try_get::<Option<String>, _>("relation")?.as_deref().and_then(Relation::parse),
            })
        })
        .collect()
    }

    /// Inside a transaction: records how the patient is related to the
    /// writer of `phone` ("c'est pour ma fille …"), so that "pour ma fille"
    /// finds her later.
    pub async fn set_relation(
        conn: &mut AnyConnection,
        clinic: ClinicId,
        patient: PatientId,
        phone: &PhoneNumber,
        relation: Relation,
    ) -> Result<()> {
        sqlx::query("UPDATE patient_phones SET relation = $4 WHERE clinic_id = $1 AND patient_id = $2 AND phone = $3")
            .bind(clinic.to_string())
            .bind(patient.to_string())
            .bind(phone.as_str())
            .bind(relation.as_str())
            .execute(&mut *conn)
            .await?;
        Ok(())
    }

    /// Inside a transaction: creates a patient linked to `phone`.
    pub async fn create_patient(
        conn: &mut AnyConnection,
        clinic: ClinicId,
        first_name: &str,
        last_name: &str,
        birth_date: Option<NaiveDate>,
        phone: &PhoneNumber,
        now: DateTime<Utc>,
    ) -> Result<Patient> {
        let id = PatientId::random();
        sqlx::query(
            "INSERT INTO patients (id, clinic_id, first_name, last_name, birth_date, created_at, updated_at) \
             VALUES ($1,$2,$3,$4,$5,$6,$6)",
        )
        .bind(id.to_string())
        .bind(clinic.to_string())
        .bind(first_name)
        .bind(last_name)
        .bind(birth_date.map(|d| d.format("%Y-%m-%d").to_string()))
        .bind(to_ts(now))
        .execute(&mut *conn)
        .await?;
        sqlx::query("INSERT INTO patient_phones (clinic_id, patient_id, phone, created_at) VALUES ($1,$2,$3,$4)")
            .bind(clinic.to_string())
            .bind(id.to_string())
            .bind(phone.as_str())
            .bind(to_ts(now))
            .execute(&mut *conn)
            .await?;
        Ok(Patient {
            id,
            clinic_id: clinic,
            first_name: first_name.to_string(),
            last_name: last_name.to_string(),
            birth_date,
            relation: None,
        })
    }

    /// Patients of a clinic by name or phone, alphabetical, `limit` from `offset`.
    /// Erased patients are not listed.
    pub async fn search_patients(
        &self,
        clinic: ClinicId,
        name: Option<&str>,
        phone: Option<&PhoneNumber>,
        limit: i64,
        offset: i64,
    ) -> Result<PatientPage> {
        let pattern = name.map(|n| format!("%{}%", n.to_lowercase().replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")));
        let mut q = super::sql::Statement::new(
            "SELECT p.id, p.first_name, p.last_name, p.birth_date, p.erased_at, p.created_at FROM patients p \
             WHERE p.clinic_id = $1 AND p.erased_at IS NULL",
        );
        q.arg(clinic.to_string());
        if let Some(pattern) = pattern {
            let p = q.arg(pattern);
            q.push(&format!(
                "AND (LOWER(p.first_name || ' ' || p.last_name) LIKE {p} ESCAPE '\\' OR LOWER(p.last_name || ' ' || p.first_name) LIKE {p} ESCAPE '\\')"
            ));
        }
        if let Some(phone) = phone {
            let p = q.arg(phone.as_str().to_string());
            q.push(&format!(
                "AND EXISTS (SELECT 1 FROM patient_phones pp WHERE pp.patient_id = p.id AND pp.clinic_id = $1 AND pp.phone = {p})"
            ));
        }
        let (l, o) = (q.arg(limit + 1), q.arg(offset));
        q.push(&format!("ORDER BY p.last_name, p.first_name, p.id LIMIT {l} OFFSET {o}"));
        let rows = q.fetch_rows(&self.pool).await?;
        let page = &rows[..rows.len().min(limit as usize)];
        let ids = page.iter().map(|r| r.try_get::<String, _>("id")).collect::<std::result::Result<Vec<_>, _>>()?;
        let mut phones = self.phones_of(clinic, &ids).await?;
        let items = page
            .iter()
            .zip(&ids)
            .map(|(row, id)| record_from_row(row, clinic, phones.remove(id).unwrap_or_default()))
            .collect::<Result<Vec<_>>>()?;
        Ok(PatientPage { items, more: rows.len() as i64 > limit })
    }

    /// The phones of these patients of the clinic, in one query.
    async fn phones_of(&self, clinic: ClinicId, ids: &[String]) -> Result<std::collections::HashMap<String, Vec<PhoneNumber>>> {
        let mut out: std::collections::HashMap<String, Vec<PhoneNumber>> = std::collections::HashMap::new();
        if ids.is_empty() {
            return Ok(out);
        }
        let placeholders = (0..ids.len()).map(|i| format!("${}", i + 2)).collect::<Vec<_>>().join(", ");
        let sql = format!(
            "SELECT patient_id, phone FROM patient_phones WHERE clinic_id = $1 AND patient_id IN ({placeholders}) \
             ORDER BY created_at, phone"
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(clinic.to_string());
        for id in ids {
            query = query.bind(id.clone());
        }
        for row in query.fetch_all(&self.pool).await? {
            let phone: String = row.try_get("phone")?;
            out.entry(row.try_get("patient_id")?)
                .or_default()
                .push(PhoneNumber::parse(&phone).map_err(|_| StorageError::Corrupt("bad phone".into()))?);
        }
        Ok(out)
    }

    /// One patient of this clinic, with the phones linked to them.
    pub async fn patient(&self, clinic: ClinicId, id: PatientId) -> Result<Option<PatientRecord>> {
        let Some(row) = sqlx::query(
            "SELECT id, first_name, last_name, birth_date, erased_at, created_at FROM patients WHERE id = $1 AND clinic_id = $2",
        )
        .bind(id.to_string())
        .bind(clinic.to_string())
        .fetch_optional(&self.pool)
        .await?
        else {
            return Ok(None);
        };
        let mut phones = self.phones_of(clinic, &[id.to_string()]).await?;
        Ok(Some(record_from_row(&row, clinic, phones.remove(&id.to_string()).unwrap_or_default())?))
    }

    /// A patient created by staff, linked to any number of phones.
    /// Creates a patient with their phones; `audit` is written in the same
    /// transaction (so for every patient-data change below).
    pub async fn add_patient(
        &self,
        patient: &Patient,
        phones: &[PhoneNumber],
        audit: &NewAuditEvent<'_>,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        sqlx::query(
            "INSERT INTO patients (id, clinic_id, first_name, last_name, birth_date, created_at, updated_at) \
             VALUES ($1,$2,$3,$4,$5,$6,$6)",
        )
        .bind(patient.id.to_string())
        .bind(patient.clinic_id.to_string())
        .bind(&patient.first_name)
        .bind(&patient.last_name)
        .bind(patient.birth_date.map(|d| d.format("%Y-%m-%d").to_string()))
        .bind(to_ts(now))
        .execute(&mut *tx)
        .await?;
        for phone in phones {
            Self::link_phone_in(&mut tx, patient.clinic_id, patient.id, phone, now).await?;
        }
        Self::audit_in(&mut tx, audit, now).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Names and birth date; an erased patient cannot be changed.
    pub async fn update_patient(&self, patient: &Patient, audit: &NewAuditEvent<'_>, now: DateTime<Utc>) -> Result<bool> {
        let mut tx = self.begin().await?;
        let done = sqlx::query(
            "UPDATE patients SET first_name = $1, last_name = $2, birth_date = $3, updated_at = $4 \
             WHERE id = $5 AND clinic_id = $6 AND erased_at IS NULL",
        )
        .bind(&patient.first_name)
        .bind(&patient.last_name)
        .bind(patient.birth_date.map(|d| d.format("%Y-%m-%d").to_string()))
        .bind(to_ts(now))
        .bind(patient.id.to_string())
        .bind(patient.clinic_id.to_string())
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() != 1 {
            return Ok(false);
        }
        Self::audit_in(&mut tx, audit, now).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn link_phone_in(
        conn: &mut AnyConnection,
        clinic: ClinicId,
        patient: PatientId,
        phone: &PhoneNumber,
        now: DateTime<Utc>,
    ) -> Result<()> {
        sqlx::query("INSERT INTO patient_phones (clinic_id, patient_id, phone, created_at) VALUES ($1,$2,$3,$4) ON CONFLICT DO NOTHING")
            .bind(clinic.to_string())
            .bind(patient.to_string())
            .bind(phone.as_str())
            .bind(to_ts(now))
            .execute(&mut *conn)
            .await?;
        Ok(())
    }

    /// Links a phone to a (not erased) patient of this clinic. False if no such patient.
    pub async fn link_phone(
        &self,
        clinic: ClinicId,
        patient: PatientId,
        phone: &PhoneNumber,
        audit: &NewAuditEvent<'_>,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        let mut tx = self.begin().await?;
        let found = sqlx::query("SELECT 1 AS one FROM patients WHERE id = $1 AND clinic_id = $2 AND erased_at IS NULL")
            .bind(patient.to_string())
            .bind(clinic.to_string())
            .fetch_optional(&mut *tx)
            .await?;
        if found.is_none() {
            return Ok(false);
        }
        Self::link_phone_in(&mut tx, clinic, patient, phone, now).await?;
        Self::audit_in(&mut tx, audit, now).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// The phone no longer reaches this patient's records. False if it was not linked.
    pub async fn unlink_phone(
        &self,
        clinic: ClinicId,
        patient: PatientId,
        phone: &PhoneNumber,
        audit: &NewAuditEvent<'_>,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        let mut tx = self.begin().await?;
        let done = sqlx::query("DELETE FROM patient_phones WHERE clinic_id = $1 AND patient_id = $2 AND phone = $3")
            .bind(clinic.to_string())
            .bind(patient.to_string())
            .bind(phone.as_str())
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() != 1 {
            return Ok(false);
        }
        Self::audit_in(&mut tx, audit, now).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Erases a patient (the right to erasure), in one transaction: their
    /// appointments still to come are cancelled (the time is freed), their
    /// name and birth date are blanked, their phones unlinked; for a phone
    /// that now reaches nobody in this clinic, the conversation's messages are
    /// blanked and its state reset to `fresh_state`. Past appointments stay,
    /// anonymous, for the statistics. `None` if no such patient.
    pub async fn erase_patient(
        &self,
        clinic: ClinicId,
        id: PatientId,
        fresh_state: &str,
        audit: &NewAuditEvent<'_>,
        now: DateTime<Utc>,
    ) -> Result<Option<Erasure>> {
        let Some(record) = self.patient(clinic, id).await? else { return Ok(None) };
        if record.erased {
            return Ok(Some(Erasure::default()));
        }
        let (c, p, ts) = (clinic.to_string(), id.to_string(), to_ts(now));
        let mut tx = self.begin().await?;
        let cancelled = sqlx::query(
            "UPDATE appointments SET status = 'cancelled', updated_at = $1 \
             WHERE clinic_id = $2 AND patient_id = $3 AND status = 'booked' AND ends_at > $1",
        )
        .bind(ts)
        .bind(&c)
        .bind(&p)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        for _ in 0..cancelled {
            Self::record_activity(&mut tx, clinic, Activity::Cancelled, "staff", now).await?;
        }
        // Nothing more is sent about their appointments; their comments go,
        // their ratings stay (anonymous) for the statistics.
        sqlx::query(
            "UPDATE reminders SET status = 'cancelled', reason = 'erased', updated_at = $1 WHERE status = 'scheduled' \
             AND appointment_id IN (SELECT id FROM appointments WHERE clinic_id = $2 AND patient_id = $3)",
        )
        .bind(ts)
        .bind(&c)
        .bind(&p)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE feedback_requests SET comment = NULL, updated_at = $1, \
               status = CASE WHEN status IN ('scheduled', 'asked') THEN 'cancelled' ELSE status END \
             WHERE appointment_id IN (SELECT id FROM appointments WHERE clinic_id = $2 AND patient_id = $3)",
        )
        .bind(ts)
        .bind(&c)
        .bind(&p)
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM patient_phones WHERE clinic_id = $1 AND patient_id = $2").bind(&c).bind(&p).execute(&mut *tx).await?;
        sqlx::query(
            "UPDATE patients SET first_name = '', last_name = '', birth_date = NULL, erased_at = $1, updated_at = $1 \
             WHERE id = $2 AND clinic_id = $3",
        )
        .bind(ts)
        .bind(&p)
        .bind(&c)
        .execute(&mut *tx)
        .await?;
        let mut conversations = 0;
        for phone in &record.phones {
            let still = sqlx::query("SELECT 1 AS one FROM patient_phones WHERE clinic_id = $1 AND phone = $2")
                .bind(&c)
                .bind(phone.as_str())
                .fetch_optional(&mut *tx)
                .await?;
            if still.is_some() {
                continue; // a family phone: the others' history stays.
            }
            sqlx::query("UPDATE inbound_messages SET body = '', fields = '{}' WHERE clinic_id = $1 AND from_phone = $2 AND processed_at IS NOT NULL")
                .bind(&c)
                .bind(phone.as_str())
                .execute(&mut *tx)
                .await?;
            sqlx::query(
                "UPDATE outbound_messages SET body = '' WHERE clinic_id = $1 AND to_phone = $2 AND status NOT IN ('queued', 'sending')",
            )
            .bind(&c)
            .bind(phone.as_str())
            .execute(&mut *tx)
            .await?;
            conversations += sqlx::query(
                "UPDATE conversations SET state = $1, flow = 'idle', version = version + 1, updated_at = $2 WHERE clinic_id = $3 AND phone = $4",
            )
            .bind(fresh_state)
            .bind(ts)
            .bind(&c)
            .bind(phone.as_str())
            .execute(&mut *tx)
            .await?
            .rows_affected();
        }
        let documents_deleted = Self::erase_patient_documents(&mut tx, clinic, id).await?;
        Self::audit_in(&mut tx, audit, now).await?;
        tx.commit().await?;
        Ok(Some(Erasure {
            cancelled_appointments: cancelled,
            phones_unlinked: record.phones.len() as u64,
            conversations_blanked: conversations,
            documents_deleted,
        }))
    }
}

/// A patient as the admin API shows them.
#[derive(Debug, Clone)]
pub struct PatientRecord {
    pub patient: Patient,
    pub phones: Vec<PhoneNumber>,
    pub erased: bool,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct PatientPage {
    pub items: Vec<PatientRecord>,
    /// More match after this page.
    pub more: bool,
}

/// What an erasure did.
#[derive(Debug, Clone, Default)]
pub struct Erasure {
    pub cancelled_appointments: u64,
    pub phones_unlinked: u64,
    pub conversations_blanked: u64,
    /// The patient's documents, their passages with them.
    pub documents_deleted: u64,
}

fn record_from_row(row: &sqlx::any::AnyRow, clinic: ClinicId, phones: Vec<PhoneNumber>) -> Result<PatientRecord> {
    let birth: Option<String> = row.try_get("birth_date")?;
    Ok(PatientRecord {
        patient: Patient {
            id: parse_id(&row.try_get::<String, _>("id")?, PatientId::parse)?,
            clinic_id: clinic,
            first_name: row.try_get("first_name")?,
            last_name: row.try_get("last_name")?,
            birth_date: birth
                .map(|b| NaiveDate::parse_from_str(&b, "%Y-%m-%d").map_err(|_| StorageError::Corrupt("bad birth date".into())))
                .transpose()?,
            relation: None,
        },
        phones,
        erased: row.try_get::<Option<i64>, _>("erased_at")?.is_some(),
        created_at: super::from_ts(row.try_get("created_at")?)?,
    })
}
