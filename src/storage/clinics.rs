use super::{Result, StorageError, Store, parse_id, to_ts};
use crate::domain::*;
use chrono::{DateTime, Utc, Weekday};
use sqlx::Row;
use sqlx::any::AnyRow;

/// A clinic's Twilio account: the token stays encrypted until the channel
/// decrypts it.
#[derive(Debug, Clone)]
pub struct TwilioCredentials {
    pub account_sid: String,
    pub auth_token_encrypted: String,
}

pub(super) const CLINIC_COLUMNS: &str = "id, slug, name, timezone, default_language, address, phone, emergency_number, \
     opening_hours_fr, opening_hours_en, booking_horizon_days, min_notice_minutes, opening_days, whatsapp_number, sms_number, answers, model_policy, calendar_patient_names";

pub(super) fn clinic_from_row(row: &AnyRow) -> Result<Clinic> {
    let tz: String = row.try_get("timezone")?;
    let lang: String = row.try_get("default_language")?;
    Ok(Clinic {
        id: parse_id(&row.try_get::<String, _>("id")?, ClinicId::parse)?,
        slug: row.try_get("slug")?,
        name: row.try_get("name")?,
        timezone: tz.parse().map_err(|_| StorageError::Corrupt(format!("bad time zone {tz}")))?,
        default_language: Lang::parse(&lang).ok_or_else(|| StorageError::Corrupt(format!("bad language {lang}")))?,
        address: row.try_get("address")?,
        phone: row.try_get("phone")?,
        emergency_number: row.try_get("emergency_number")?,
        opening_hours_fr: row.try_get("opening_hours_fr")?,
        opening_hours_en: row.try_get("opening_hours_en")?,
        model_policy: {
            let p: String = row.try_get("model_policy")?;
            ModelPolicy::parse(&p).ok_or_else(|| StorageError::Corrupt(format!("bad model policy {p}")))?
        },
        calendar_patient_names: row.try_get::<i64, _>("calendar_patient_names")? != 0,
        answers: serde_json::from_str(&row.try_get::<String, _>("answers")?)
            .map_err(|e| StorageError::Corrupt(format!("bad answers: {e}")))?,
        booking_horizon_days: row.try_get::<i64, _>("booking_horizon_days")? as u32,
        min_notice_minutes: row.try_get::<i64, _>("min_notice_minutes")? as u32,
        opening_days: WeekdaySet::from_bits(row.try_get::<i64, _>("opening_days")? as u8),
        whatsapp_number: row.try_get("whatsapp_number")?,
        sms_number: row.try_get("sms_number")?,
    })
}

impl Store {
    pub async fn clinic_by_slug(&self, slug: &str) -> Result<Option<Clinic>> {
        let sql = format!("SELECT {CLINIC_COLUMNS} FROM clinics WHERE slug = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(slug).fetch_optional(&self.pool).await?;
        row.as_ref().map(clinic_from_row).transpose()
    }

    pub async fn clinic(&self, id: ClinicId) -> Result<Clinic> {
        let sql = format!("SELECT {CLINIC_COLUMNS} FROM clinics WHERE id = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id.to_string()).fetch_optional(&self.pool).await?;
        row.as_ref().map(clinic_from_row).transpose()?.ok_or(StorageError::NotFound("clinic"))
    }

    pub async fn twilio_credentials(&self, clinic: ClinicId) -> Result<Option<TwilioCredentials>> {
        let row = sqlx::query("SELECT twilio_account_sid, twilio_auth_token_enc FROM clinics WHERE id = $1")
            .bind(clinic.to_string())
            .fetch_optional(&self.pool)
            .await?;
        let Some(row) = row else { return Ok(None) };
        let sid: Option<String> = row.try_get("twilio_account_sid")?;
        let token: Option<String> = row.try_get("twilio_auth_token_enc")?;
        Ok(sid.zip(token).map(|(account_sid, auth_token_encrypted)| TwilioCredentials { account_sid, auth_token_encrypted }))
    }

    /// The clinic, its practitioners, services and weekly windows: three queries.
    pub async fn catalog(&self, clinic: ClinicId) -> Result<ClinicCatalog> {
        let clinic = self.clinic(clinic).await?;
        let cid = clinic.id.to_string();
        let practitioners = sqlx::query(
            "SELECT id, title, first_name, last_name, active, daily_limit FROM practitioners WHERE clinic_id = $1 ORDER BY last_name, first_name, id",
        )
        .bind(&cid)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|row| {
            Ok(Practitioner {
                id: parse_id(&row.try_get::<String, _>("id")?, PractitionerId::parse)?,
                clinic_id: clinic.id,
                title: row.try_get("title")?,
                first_name: row.try_get("first_name")?,
                last_name: row.try_get("last_name")?,
                active: row.try_get::<i64, _>("active")? != 0,
                daily_limit: row.try_get::<Option<i64>, _>("daily_limit")?.map(|n| n.max(1) as u32),
            })
        })
        .collect::<Result<Vec<_>>>()?;

        let links = sqlx::query(
            "SELECT ps.service_id, ps.practitioner_id, ps.duration_minutes FROM practitioner_services ps \
             JOIN services s ON s.id = ps.service_id WHERE s.clinic_id = $1",
        )
        .bind(&cid)
        .fetch_all(&self.pool)
        .await?;
        let mut services = sqlx::query(
            "SELECT id, name_fr, name_en, duration_minutes, buffer_before_minutes, buffer_after_minutes, price FROM services \
                 WHERE clinic_id = $1 AND archived_at IS NULL ORDER BY name_fr, id",
        )
        .bind(&cid)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|row| {
            Ok(Service {
                id: parse_id(&row.try_get::<String, _>("id")?, ServiceId::parse)?,
                clinic_id: clinic.id,
                name_fr: row.try_get("name_fr")?,
                name_en: row.try_get("name_en")?,
                duration_minutes: row.try_get::<i64, _>("duration_minutes")? as u32,
                buffer_before_minutes: row.try_get::<i64, _>("buffer_before_minutes")? as u32,
                buffer_after_minutes: row.try_get::<i64, _>("buffer_after_minutes")? as u32,
                practitioners: Vec::new(),
                duration_overrides: Vec::new(),
                price: row.try_get("price")?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
        for link in &links {
            let sid = parse_id(&link.try_get::<String, _>("service_id")?, ServiceId::parse)?;
            let pid = parse_id(&link.try_get::<String, _>("practitioner_id")?, PractitionerId::parse)?;
            let own: Option<i64> = link.try_get("duration_minutes")?;
            if let Some(s) = services.iter_mut().find(|s| s.id == sid) {
                s.practitioners.push(pid);
                if let Some(minutes) = own {
                    s.duration_overrides.push((pid, minutes as u32));
                }
            }
        }

        let windows = self.catalog_windows(clinic.id).await?.into_iter().map(|(_, w)| w).collect();
        let holidays = self.holidays(clinic.id).await?;
        let exceptions = self.exceptions(clinic.id).await?;

        Ok(ClinicCatalog { clinic, practitioners, services, windows, holidays, exceptions })
    }

    /// The weekly windows of a clinic, with their stored ids.
    pub(super) async fn catalog_windows(&self, clinic: ClinicId) -> Result<Vec<(String, WeeklyWindow)>> {
        let window_services = sqlx::query(
            "SELECT ws.window_id, ws.service_id FROM window_services ws \
             JOIN availability_windows w ON w.id = ws.window_id WHERE w.clinic_id = $1",
        )
        .bind(clinic.to_string())
        .fetch_all(&self.pool)
        .await?;
        let mut windows = Vec::new();
        for row in sqlx::query(
            "SELECT id, practitioner_id, weekday, start_minute, end_minute, capacity, mode FROM availability_windows \
             WHERE clinic_id = $1 ORDER BY practitioner_id, weekday, start_minute, id",
        )
        .bind(clinic.to_string())
        .fetch_all(&self.pool)
        .await?
        {
            let id: String = row.try_get("id")?;
            let mode: Option<String> = row.try_get("mode")?;
            let mut services = Vec::new();
            for link in window_services.iter().filter(|l| l.try_get::<String, _>("window_id").is_ok_and(|w| w == id)) {
                services.push(parse_id(&link.try_get::<String, _>("service_id")?, ServiceId::parse)?);
            }
            windows.push((
                id.clone(),
                WeeklyWindow {
                    practitioner_id: parse_id(&row.try_get::<String, _>("practitioner_id")?, PractitionerId::parse)?,
                    weekday: weekday_from_number(row.try_get("weekday")?)?,
                    start_minute: minute(row.try_get("start_minute")?)?,
                    end_minute: minute(row.try_get("end_minute")?)?,
                    capacity: row.try_get::<i64, _>("capacity")?.max(1) as u32,
                    services,
                    mode: mode
                        .map(|m| ConsultationMode::parse(&m).ok_or_else(|| StorageError::Corrupt(format!("bad mode {m}"))))
                        .transpose()?,
                },
            ));
        }
        Ok(windows)
    }

    /// Creates or replaces the clinic's own row.
    pub(super) async fn upsert_clinic_row(
        conn: &mut sqlx::AnyConnection,
        c: &Clinic,
        twilio: Option<&TwilioCredentials>,
        now: i64,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO clinics (id, slug, name, timezone, default_language, address, phone, emergency_number, \
               opening_hours_fr, opening_hours_en, booking_horizon_days, min_notice_minutes, whatsapp_number, sms_number, \
               twilio_account_sid, twilio_auth_token_enc, created_at, updated_at, opening_days, answers, model_policy, \
               calendar_patient_names) \
             VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$17,$18,$19,$20,$21) \
             ON CONFLICT (id) DO UPDATE SET slug = excluded.slug, name = excluded.name, timezone = excluded.timezone, \
               default_language = excluded.default_language, address = excluded.address, phone = excluded.phone, \
               emergency_number = excluded.emergency_number, opening_hours_fr = excluded.opening_hours_fr, \
               opening_hours_en = excluded.opening_hours_en, booking_horizon_days = excluded.booking_horizon_days, \
               min_notice_minutes = excluded.min_notice_minutes, whatsapp_number = excluded.whatsapp_number, \
               sms_number = excluded.sms_number, twilio_account_sid = excluded.twilio_account_sid, \
               twilio_auth_token_enc = excluded.twilio_auth_token_enc, updated_at = excluded.updated_at, \
               opening_days = excluded.opening_days, answers = excluded.answers, \
               model_policy = excluded.model_policy, calendar_patient_names = excluded.calendar_patient_names, \
               catalog_version = clinics.catalog_version + 1",
        )
        .bind(c.id.to_string())
        .bind(&c.slug)
        .bind(&c.name)
        .bind(c.timezone.name())
        .bind(c.default_language.as_str())
        .bind(&c.address)
        .bind(&c.phone)
        .bind(&c.emergency_number)
        .bind(&c.opening_hours_fr)
        .bind(&c.opening_hours_en)
        .bind(c.booking_horizon_days as i64)
        .bind(c.min_notice_minutes as i64)
        .bind(&c.whatsapp_number)
        .bind(&c.sms_number)
        .bind(twilio.map(|t| t.account_sid.clone()))
        .bind(twilio.map(|t| t.auth_token_encrypted.clone()))
        .bind(now)
        .bind(c.opening_days.bits() as i64)
        .bind(serde_json::to_string(&c.answers).expect("answers serialise"))
        .bind(c.model_policy.as_str())
        .bind(c.calendar_patient_names as i64)
        .execute(&mut *conn)
        .await
        .map_err(|e| super::catalog::unique_violation(e, "clinic slug or channel number"))?;
        Ok(())
    }

    /// Creates or replaces a clinic and its whole catalog (used by fixtures and
    /// `nuru clinic import`). Existing patients and appointments are kept.
    pub async fn upsert_catalog(&self, catalog: &ClinicCatalog, twilio: Option<&TwilioCredentials>, now: DateTime<Utc>) -> Result<()> {
        let now = to_ts(now);
        let c = &catalog.clinic;
        let cid = c.id.to_string();
        let mut tx = self.begin().await?;
        Self::upsert_clinic_row(&mut tx, c, twilio, now).await?;

        sqlx::query("DELETE FROM window_services WHERE window_id IN (SELECT id FROM availability_windows WHERE clinic_id = $1)")
            .bind(&cid)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM availability_windows WHERE clinic_id = $1").bind(&cid).execute(&mut *tx).await?;
        sqlx::query("DELETE FROM practitioner_services WHERE service_id IN (SELECT id FROM services WHERE clinic_id = $1)")
            .bind(&cid)
            .execute(&mut *tx)
            .await?;
        for p in &catalog.practitioners {
            Self::upsert_practitioner(&mut tx, p, now).await?;
        }
        for s in &catalog.services {
            Self::upsert_service(&mut tx, s, now).await?;
        }
        for w in &catalog.windows {
            Self::insert_window(&mut tx, c.id, uuid::Uuid::new_v4(), w).await?;
        }
        Self::replace_holidays(&mut tx, c.id, &catalog.holidays).await?;
        sqlx::query("DELETE FROM availability_exceptions WHERE clinic_id = $1").bind(&cid).execute(&mut *tx).await?;
        for e in &catalog.exceptions {
            Self::insert_exception(&mut tx, c.id, e, now).await?;
        }
        tx.commit().await?;
        Ok(())
    }
}

pub(super) fn weekday_from_number(n: i64) -> Result<Weekday> {
    Ok(match n {
        1 => Weekday::Mon,
        2 => Weekday::Tue,
        3 => Weekday::Wed,
        4 => Weekday::Thu,
        5 => Weekday::Fri,
        6 => Weekday::Sat,
        7 => Weekday::Sun,
        _ => return Err(StorageError::Corrupt(format!("bad weekday {n}"))),
    })
}

pub(super) fn minute(m: i64) -> Result<u16> {
    if (0..=i64::from(DAY_MINUTES)).contains(&m) { Ok(m as u16) } else { Err(StorageError::Corrupt(format!("bad minute {m}"))) }
}
