//! Clinic files (TOML): the demo clinic in `fixtures/`, and `nuru clinic
//! import` until the admin API exists. Ids derive from the slug and the keys,
//! so importing the same file again updates rather than duplicates.

use crate::domain::*;
use crate::secrets::Cipher;
use crate::storage::{Store, TwilioCredentials};
use anyhow::{Context, bail};
use chrono::{NaiveDate, NaiveTime, TimeZone, Timelike, Utc, Weekday};
use serde::Deserialize;
use uuid::Uuid;

pub const DEMO_CLINIC: &str = include_str!("../fixtures/demo-clinic.toml");

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClinicFile {
    pub clinic: ClinicSection,
    pub twilio: Option<TwilioSection>,
    #[serde(default)]
    pub practitioners: Vec<PractitionerSection>,
    #[serde(default)]
    pub services: Vec<ServiceSection>,
    #[serde(default)]
    pub holidays: Vec<HolidaySection>,
    #[serde(default)]
    pub exceptions: Vec<ExceptionSection>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HolidaySection {
    pub date: NaiveDate,
    #[serde(default)]
    pub name: String,
}

/// One exception: `date` (+ optional `from`/`to` for part of the day),
/// `first`..`last` whole days, or `weekly` on a day (+ optional times).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExceptionSection {
    pub key: String,
    /// A practitioner's key; absent for the whole clinic.
    pub practitioner: Option<String>,
    pub kind: String,
    #[serde(default)]
    pub reason: String,
    pub date: Option<NaiveDate>,
    pub first: Option<NaiveDate>,
    pub last: Option<NaiveDate>,
    pub weekly: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    pub until: Option<NaiveDate>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClinicSection {
    pub slug: String,
    pub name: String,
    pub timezone: String,
    pub default_language: String,
    #[serde(default)]
    pub address: String,
    pub phone: Option<String>,
    pub emergency_number: String,
    pub opening_hours_fr: Option<String>,
    pub opening_hours_en: Option<String>,
    /// `[{ topic = "payment", fr = "…", en = "…" }]`
    #[serde(default)]
    pub answers: Vec<ClinicAnswer>,
    /// "any" (default), "local_only" or "none".
    #[serde(default)]
    pub model_policy: ModelPolicy,
    /// Patients' names in doctors' calendar events (default false).
    #[serde(default)]
    pub calendar_patient_names: bool,
    #[serde(default = "default_horizon")]
    pub booking_horizon_days: u32,
    #[serde(default = "default_notice")]
    pub min_notice_minutes: u32,
    /// Days the clinic opens; absent means every day.
    pub opening_days: Option<Vec<String>>,
    pub whatsapp_number: Option<String>,
    pub sms_number: Option<String>,
}

fn default_horizon() -> u32 {
    30
}

fn default_notice() -> u32 {
    60
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TwilioSection {
    pub account_sid: String,
    pub auth_token: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PractitionerSection {
    pub key: String,
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub first_name: String,
    pub last_name: String,
    pub daily_limit: Option<u32>,
    #[serde(default)]
    pub windows: Vec<WindowSection>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WindowSection {
    pub days: Vec<String>,
    pub from: String,
    pub to: String,
    #[serde(default = "one")]
    pub capacity: u32,
    /// Service keys this window is limited to.
    #[serde(default)]
    pub services: Vec<String>,
    /// "in_person" or "remote"; absent for both.
    pub mode: Option<String>,
}

fn one() -> u32 {
    1
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceSection {
    pub key: String,
    pub name_fr: String,
    pub name_en: String,
    pub duration_minutes: u32,
    #[serde(default)]
    pub buffer_before_minutes: u32,
    #[serde(default)]
    pub buffer_after_minutes: u32,
    pub practitioners: Vec<String>,
    pub price: Option<String>,
    /// Per-practitioner durations: `{ mendy = 45 }`.
    #[serde(default)]
    pub durations: std::collections::BTreeMap<String, u32>,
}

fn weekday(s: &str) -> anyhow::Result<Weekday> {
    Ok(match s.to_ascii_lowercase().as_str() {
        "mon" | "lun" => Weekday::Mon,
        "tue" | "mar" => Weekday::Tue,
        "wed" | "mer" => Weekday::Wed,
        "thu" | "jeu" => Weekday::Thu,
        "fri" | "ven" => Weekday::Fri,
        "sat" | "sam" => Weekday::Sat,
        "sun" | "dim" => Weekday::Sun,
        other => bail!("unknown day {other:?} (use mon, tue, … sun)"),
    })
}

/// "HH:MM" (or "24:00") as minutes from midnight.
fn hhmm(s: &str) -> anyhow::Result<u16> {
    if s == "24:00" {
        return Ok(DAY_MINUTES);
    }
    let t = NaiveTime::parse_from_str(s, "%H:%M").with_context(|| format!("{s:?} is not HH:MM"))?;
    Ok((t.hour() * 60 + t.minute()) as u16)
}

fn derived<T>(namespace: &str, key: &str, make: fn(Uuid) -> T) -> T {
    make(Uuid::new_v5(&Uuid::NAMESPACE_URL, format!("nuru:{namespace}:{key}").as_bytes()))
}

impl ClinicFile {
    pub fn parse(text: &str) -> anyhow::Result<ClinicFile> {
        toml::from_str(text).context("clinic file is not valid")
    }

    /// Validates the file and turns it into the domain catalog.
    pub fn into_catalog(self) -> anyhow::Result<(ClinicCatalog, Option<TwilioSection>)> {
        let c = self.clinic;
        if let Err(rule) = crate::domain::check_slug(&c.slug) {
            bail!("clinic.slug: {rule}");
        }
        if let Err(rule) = crate::domain::check_booking_horizon(c.booking_horizon_days) {
            bail!("clinic.booking_horizon_days: {rule}");
        }
        let clinic = Clinic {
            id: derived(&c.slug, "clinic", ClinicId),
            timezone: c.timezone.parse().map_err(|_| anyhow::anyhow!("clinic.timezone {:?} is not an IANA zone", c.timezone))?,
            default_language: Lang::parse(&c.default_language).context("clinic.default_language must be fr or en")?,
            whatsapp_number: c
                .whatsapp_number
                .map(|n| PhoneNumber::parse(&n).map(|p| p.as_str().to_string()))
                .transpose()
                .map_err(anyhow::Error::msg)?,
            sms_number: c
                .sms_number
                .map(|n| PhoneNumber::parse(&n).map(|p| p.as_str().to_string()))
                .transpose()
                .map_err(anyhow::Error::msg)?,
            slug: c.slug.clone(),
            name: c.name,
            address: c.address,
            phone: c.phone,
            emergency_number: c.emergency_number,
            opening_hours_fr: c.opening_hours_fr,
            opening_hours_en: c.opening_hours_en,
            answers: c.answers,
            model_policy: c.model_policy,
            calendar_patient_names: c.calendar_patient_names,
            booking_horizon_days: c.booking_horizon_days,
            min_notice_minutes: c.min_notice_minutes,
            opening_days: match &c.opening_days {
                None => WeekdaySet::ALL,
                Some(days) => days.iter().map(|d| weekday(d)).collect::<anyhow::Result<WeekdaySet>>()?,
            },
        };
        let service_key = |key: &str| -> anyhow::Result<ServiceId> {
            if !self.services.iter().any(|s| s.key == key) {
                bail!("unknown service {key}");
            }
            Ok(derived(&c.slug, &format!("service:{key}"), ServiceId))
        };
        let practitioner_key = |key: &str| -> anyhow::Result<PractitionerId> {
            if !self.practitioners.iter().any(|p| p.key == key) {
                bail!("unknown practitioner {key}");
            }
            Ok(derived(&c.slug, &format!("practitioner:{key}"), PractitionerId))
        };
        let mut practitioners = Vec::new();
        let mut windows = Vec::new();
        for p in &self.practitioners {
            let id = derived(&c.slug, &format!("practitioner:{}", p.key), PractitionerId);
            practitioners.push(Practitioner {
                id,
                clinic_id: clinic.id,
                title: p.title.clone(),
                first_name: p.first_name.clone(),
                last_name: p.last_name.clone(),
                active: true,
                daily_limit: p.daily_limit.filter(|n| *n > 0),
            });
            for w in &p.windows {
                let (start, end) = (hhmm(&w.from)?, hhmm(&w.to)?);
                if end <= start {
                    bail!("practitioner {}: window {}–{} ends before it starts", p.key, w.from, w.to);
                }
                let services = w.services.iter().map(|k| service_key(k)).collect::<anyhow::Result<Vec<_>>>()?;
                let mode = w
                    .mode
                    .as_deref()
                    .map(|m| {
                        ConsultationMode::parse(m).with_context(|| format!("practitioner {}: mode {m:?} is not in_person or remote", p.key))
                    })
                    .transpose()?;
                for d in &w.days {
                    windows.push(WeeklyWindow {
                        practitioner_id: id,
                        weekday: weekday(d)?,
                        start_minute: start,
                        end_minute: end,
                        capacity: w.capacity.max(1),
                        services: services.clone(),
                        mode,
                    });
                }
            }
        }
        let mut services = Vec::new();
        for s in &self.services {
            if s.duration_minutes == 0 || s.duration_minutes > crate::domain::MAX_SERVICE_MINUTES {
                bail!("service {}: duration_minutes must be between 1 and {}", s.key, crate::domain::MAX_SERVICE_MINUTES);
            }
            if s.buffer_before_minutes > crate::domain::MAX_BUFFER_MINUTES || s.buffer_after_minutes > crate::domain::MAX_BUFFER_MINUTES {
                bail!("service {}: buffers must be at most {} minutes", s.key, crate::domain::MAX_BUFFER_MINUTES);
            }
            let mut ids = Vec::new();
            for key in &s.practitioners {
                ids.push(practitioner_key(key).with_context(|| format!("service {}", s.key))?);
            }
            let mut duration_overrides = Vec::new();
            for (key, minutes) in &s.durations {
                let id = practitioner_key(key).with_context(|| format!("service {}", s.key))?;
                if *minutes == 0 || *minutes > crate::domain::MAX_SERVICE_MINUTES || !ids.contains(&id) {
                    bail!("service {}: duration for {key} must be positive and {key} must perform the service", s.key);
                }
                duration_overrides.push((id, *minutes));
            }
            services.push(Service {
                id: derived(&c.slug, &format!("service:{}", s.key), ServiceId),
                clinic_id: clinic.id,
                name_fr: s.name_fr.clone(),
                name_en: s.name_en.clone(),
                duration_minutes: s.duration_minutes,
                buffer_before_minutes: s.buffer_before_minutes,
                buffer_after_minutes: s.buffer_after_minutes,
                practitioners: ids,
                duration_overrides,
                price: s.price.clone(),
            });
        }
        let holidays = self.holidays.iter().map(|h| Holiday { date: h.date, name: h.name.clone() }).collect();
        let mut exceptions = Vec::new();
        for e in &self.exceptions {
            let ctx = || format!("exception {}", e.key);
            let kind =
                ExceptionKind::parse(&e.kind).with_context(|| format!("{}: kind must be leave, training, emergency or busy", ctx()))?;
            let practitioner_id = e.practitioner.as_deref().map(&practitioner_key).transpose().with_context(ctx)?;
            let (from, to) = (e.from.as_deref().map(hhmm).transpose()?, e.to.as_deref().map(hhmm).transpose()?);
            let (start_minute, end_minute) = (from.unwrap_or(0), to.unwrap_or(DAY_MINUTES));
            if end_minute <= start_minute {
                bail!("{}: ends before it starts", ctx());
            }
            let time = match (e.date, e.first, e.last, &e.weekly) {
                (Some(date), None, None, None) if from.is_none() && to.is_none() => ExceptionTime::Days { first: date, last: date },
                (Some(date), None, None, None) => {
                    let at = |m: u16| {
                        crate::scheduling::local_instant(
                            clinic.timezone,
                            date.and_time(NaiveTime::MIN) + chrono::Duration::minutes(m as i64),
                        )
                    };
                    ExceptionTime::Once { start: at(start_minute), end: at(end_minute) }
                }
                (None, Some(first), Some(last), None) if last >= first => ExceptionTime::Days { first, last },
                (None, first, None, Some(day)) => ExceptionTime::Weekly {
                    weekday: weekday(day)?,
                    start_minute,
                    end_minute,
                    from: first.unwrap_or_else(|| Utc.timestamp_opt(0, 0).unwrap().date_naive()),
                    until: e.until,
                },
                _ => bail!("{}: give `date` (with optional from/to), `first` and `last`, or `weekly`", ctx()),
            };
            exceptions.push(AvailabilityException {
                id: derived(&c.slug, &format!("exception:{}", e.key), ExceptionId),
                practitioner_id,
                kind,
                reason: e.reason.clone(),
                time,
            });
        }
        Ok((ClinicCatalog { clinic, practitioners, services, windows, holidays, exceptions }, self.twilio))
    }

    /// Parses, validates and stores a clinic file; Twilio's token is encrypted.
    pub async fn import(text: &str, store: &Store, cipher: &Cipher, now: chrono::DateTime<chrono::Utc>) -> anyhow::Result<ClinicCatalog> {
        let (catalog, twilio) = Self::parse(text)?.into_catalog()?;
        let creds = twilio.map(|t| TwilioCredentials { account_sid: t.account_sid, auth_token_encrypted: cipher.encrypt(&t.auth_token) });
        store.upsert_catalog(&catalog, creds.as_ref(), now).await?;
        Ok(catalog)
    }
}

#[cfg(test)]
mod limits {
    use super::*;

    /// No appointment may block more than `MAX_BLOCKED_MINUTES`: occupancy
    /// reads rely on it, so clinic files keep to the admin API's limits.
    #[test]
    fn services_longer_than_a_working_day_or_with_long_buffers_are_refused() {
        let with = |from: &str, to: &str| DEMO_CLINIC.replacen(from, to, 1);
        let first_duration = DEMO_CLINIC.lines().find(|l| l.contains("duration_minutes")).expect("the demo has a service").to_string();
        let long = with(&first_duration, "duration_minutes = 481");
        let err = ClinicFile::parse(&long).and_then(|f| f.into_catalog()).unwrap_err().to_string();
        assert!(err.contains("duration_minutes must be between 1 and 480"), "{err}");
        let buffered = with(&first_duration, "duration_minutes = 30\nbuffer_after_minutes = 241");
        let err = ClinicFile::parse(&buffered).and_then(|f| f.into_catalog()).unwrap_err().to_string();
        assert!(err.contains("buffers must be at most 240 minutes"), "{err}");
        assert!(ClinicFile::parse(&with(&first_duration, "duration_minutes = 480")).and_then(|f| f.into_catalog()).is_ok());
    }
}
