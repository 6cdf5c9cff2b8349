use super::{Result, StorageError, Store, parse_id, to_ts};
use crate::domain::*;
use chrono::{DateTime, NaiveDate, Utc};
use sqlx::AnyConnection;
use sqlx::Row;

impl Store {
    /// The patients linked to a phone number in this clinic (a family phone
    /// may have several), oldest link first.
    pub async fn patients_for_phone(&self, clinic: ClinicId, phone: &PhoneNumber) -> Result<Vec<Patient>> {
        sqlx::query(
            "SELECT p.id, p.first_name, p.last_name, p.birth_date FROM patients p \
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
            })
        })
        .collect()
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
        Ok(Patient { id, clinic_id: clinic, first_name: first_name.to_string(), last_name: last_name.to_string(), birth_date })
    }
}
