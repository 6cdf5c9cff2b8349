//! Clinic files (TOML): the demo clinic in `fixtures/`, and `nuru clinic
//! import` until the admin API exists. Ids derive from the slug and the keys,
//! so importing the same file again updates rather than duplicates.

use crate::domain::*;
use crate::secrets::Cipher;
use crate::storage::{Store, TwilioCredentials};
use anyhow::{Context, bail};
use chrono::{NaiveTime, Weekday};
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
    #[serde(default = "default_horizon")]
    pub booking_horizon_days: u32,
    #[serde(default = "default_notice")]
    pub min_notice_minutes: u32,
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
    pub practitioners: Vec<String>,
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

fn hhmm(s: &str) -> anyhow::Result<NaiveTime> {
    if s == "24:00" {
        return Ok(NaiveTime::MIN);
    }
    NaiveTime::parse_from_str(s, "%H:%M").with_context(|| format!("{s:?} is not HH:MM"))
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
        if c.slug.is_empty() || !c.slug.chars().all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '-') {
            bail!("clinic.slug must be lowercase letters, digits and dashes");
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
            booking_horizon_days: c.booking_horizon_days.clamp(1, 365),
            min_notice_minutes: c.min_notice_minutes,
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
            });
            for w in &p.windows {
                let (start, end) = (hhmm(&w.from)?, hhmm(&w.to)?);
                if end != NaiveTime::MIN && end <= start {
                    bail!("practitioner {}: window {}–{} ends before it starts", p.key, w.from, w.to);
                }
                for d in &w.days {
                    windows.push(WeeklyWindow { practitioner_id: id, weekday: weekday(d)?, start, end, capacity: w.capacity.max(1) });
                }
            }
        }
        let mut services = Vec::new();
        for s in &self.services {
            if s.duration_minutes == 0 {
                bail!("service {}: duration_minutes must be positive", s.key);
            }
            let mut ids = Vec::new();
            for key in &s.practitioners {
                if !self.practitioners.iter().any(|p| &p.key == key) {
                    bail!("service {}: unknown practitioner {key}", s.key);
                }
                ids.push(derived(&c.slug, &format!("practitioner:{key}"), PractitionerId));
            }
            services.push(Service {
                id: derived(&c.slug, &format!("service:{}", s.key), ServiceId),
                clinic_id: clinic.id,
                name_fr: s.name_fr.clone(),
                name_en: s.name_en.clone(),
                duration_minutes: s.duration_minutes,
                practitioners: ids,
            });
        }
        Ok((ClinicCatalog { clinic, practitioners, services, windows }, self.twilio))
    }

    /// Parses, validates and stores a clinic file; Twilio's token is encrypted.
    pub async fn import(text: &str, store: &Store, cipher: &Cipher) -> anyhow::Result<ClinicCatalog> {
        let (catalog, twilio) = Self::parse(text)?.into_catalog()?;
        let creds = twilio.map(|t| TwilioCredentials { account_sid: t.account_sid, auth_token_encrypted: cipher.encrypt(&t.auth_token) });
        store.upsert_catalog(&catalog, creds.as_ref()).await?;
        Ok(catalog)
    }
}
