//! Domain types shared by every module. They are parsed at the boundary and
//! cannot hold invalid values; none of them knows a wire format or SQL.

mod ids;
mod lang;
mod phone;

pub use ids::*;
pub use lang::Lang;
pub use phone::{Channel, PhoneNumber, mask_phone};

use chrono::{DateTime, NaiveDate, NaiveTime, Utc, Weekday};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

/// A clinic as the engine sees it (settings included; channel secrets are not
/// part of it, they are read only by the channel that needs them).
#[derive(Debug, Clone)]
pub struct Clinic {
    pub id: ClinicId,
    pub slug: String,
    pub name: String,
    pub timezone: Tz,
    pub default_language: Lang,
    pub address: String,
    pub phone: Option<String>,
    pub emergency_number: String,
    pub opening_hours_fr: Option<String>,
    pub opening_hours_en: Option<String>,
    pub booking_horizon_days: u32,
    pub min_notice_minutes: u32,
    pub whatsapp_number: Option<String>,
    pub sms_number: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Practitioner {
    pub id: PractitionerId,
    pub clinic_id: ClinicId,
    pub title: String,
    pub first_name: String,
    pub last_name: String,
    pub active: bool,
}

impl Practitioner {
    /// The name a patient reads: "Dr Aminata Mendy".
    pub fn display_name(&self) -> String {
        [self.title.as_str(), self.first_name.as_str(), self.last_name.as_str()]
            .iter()
            .filter(|s| !s.is_empty())
            .copied()
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// A treatment type ("service"): what a patient books, with its duration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Service {
    pub id: ServiceId,
    pub clinic_id: ClinicId,
    pub name_fr: String,
    pub name_en: String,
    pub duration_minutes: u32,
    /// Practitioners who perform this service.
    pub practitioners: Vec<PractitionerId>,
}

impl Service {
    pub fn name(&self, lang: Lang) -> &str {
        match lang {
            Lang::Fr => &self.name_fr,
            Lang::En => &self.name_en,
        }
    }
}

/// A weekly recurring availability window, in the clinic's local time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WeeklyWindow {
    pub practitioner_id: PractitionerId,
    pub weekday: Weekday,
    pub start: NaiveTime,
    pub end: NaiveTime,
    /// Patients accepted at the same time in this window.
    pub capacity: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Patient {
    pub id: PatientId,
    pub clinic_id: ClinicId,
    pub first_name: String,
    pub last_name: String,
    pub birth_date: Option<NaiveDate>,
}

impl Patient {
    pub fn full_name(&self) -> String {
        format!("{} {}", self.first_name, self.last_name)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AppointmentStatus {
    Booked,
    Cancelled,
    Attended,
    NoShow,
}

impl AppointmentStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Booked => "booked",
            Self::Cancelled => "cancelled",
            Self::Attended => "attended",
            Self::NoShow => "no_show",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "booked" => Self::Booked,
            "cancelled" => Self::Cancelled,
            "attended" => Self::Attended,
            "no_show" => Self::NoShow,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Appointment {
    pub id: AppointmentId,
    pub clinic_id: ClinicId,
    pub practitioner_id: PractitionerId,
    pub patient_id: PatientId,
    pub service_id: ServiceId,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub status: AppointmentStatus,
}

/// A half-open time interval `[start, end)` during which a practitioner is not
/// free: an appointment, and later an exception or a Google Calendar event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BusyInterval {
    pub practitioner_id: PractitionerId,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

/// Everything the engine needs to know about one clinic to answer a patient:
/// loaded in one go per turn (three queries, whatever the size).
#[derive(Debug, Clone)]
pub struct ClinicCatalog {
    pub clinic: Clinic,
    pub practitioners: Vec<Practitioner>,
    pub services: Vec<Service>,
    pub windows: Vec<WeeklyWindow>,
}

impl ClinicCatalog {
    pub fn practitioner(&self, id: PractitionerId) -> Option<&Practitioner> {
        self.practitioners.iter().find(|p| p.id == id)
    }

    pub fn service(&self, id: ServiceId) -> Option<&Service> {
        self.services.iter().find(|s| s.id == id)
    }

    /// Active practitioners who perform `service`.
    pub fn practitioners_for(&self, service: ServiceId) -> Vec<&Practitioner> {
        let Some(service) = self.service(service) else { return Vec::new() };
        self.practitioners.iter().filter(|p| p.active && service.practitioners.contains(&p.id)).collect()
    }
}
