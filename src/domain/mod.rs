//! Domain types shared by every module. They are parsed at the boundary and
//! cannot hold invalid values; none of them knows a wire format or SQL.

mod feedback;
mod ids;
mod lang;
mod phone;
mod schedule;

pub use feedback::{AwaitedFeedback, FeedbackAnswer};
pub use ids::*;
pub use lang::Lang;
pub use phone::{Channel, PhoneNumber, mask_phone};
pub use schedule::*;

use chrono::{DateTime, NaiveDate, Utc};
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
    /// Answers to common questions, per topic, in both languages.
    pub answers: Vec<ClinicAnswer>,
    /// Which models may read this clinic's messages.
    pub model_policy: ModelPolicy,
    /// Events written to doctors' calendars carry the patient's name (off by
    /// default; never the reason or the service).
    pub calendar_patient_names: bool,
    pub booking_horizon_days: u32,
    pub min_notice_minutes: u32,
    /// Days the clinic opens (public holidays aside).
    pub opening_days: WeekdaySet,
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
    /// At most this many appointments per local day.
    pub daily_limit: Option<u32>,
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

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ModelPolicy {
    #[default]
    Any,
    /// Only a model run by the clinic or its host (no hosted service).
    LocalOnly,
    None,
}

impl ModelPolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Any => "any",
            Self::LocalOnly => "local_only",
            Self::None => "none",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "any" => Self::Any,
            "local_only" => Self::LocalOnly,
            "none" => Self::None,
            _ => return None,
        })
    }

    /// Whether a model (hosted or not) may read this clinic's messages.
    pub fn allows(self, hosted: bool) -> bool {
        match self {
            Self::Any => true,
            Self::LocalOnly => !hosted,
            Self::None => false,
        }
    }
}

/// What a patient may ask about that the clinic answers from its settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InfoTopic {
    Payment,
    Documents,
    Fasting,
    Parking,
    Results,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClinicAnswer {
    pub topic: InfoTopic,
    pub fr: String,
    pub en: String,
}

/// A treatment type ("service"): what a patient books, with its duration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Service {
    pub id: ServiceId,
    pub clinic_id: ClinicId,
    pub name_fr: String,
    pub name_en: String,
    pub duration_minutes: u32,
    /// Time blocked before and after each appointment (preparation,
    /// cleaning); buffers of neighbouring appointments add up.
    pub buffer_before_minutes: u32,
    pub buffer_after_minutes: u32,
    /// Practitioners who perform this service, with their own duration when
    /// it differs from `duration_minutes`.
    pub practitioners: Vec<PractitionerId>,
    pub duration_overrides: Vec<(PractitionerId, u32)>,
    /// As the clinic writes it ("15 000 CDF"), shown to patients who ask.
    pub price: Option<String>,
}

impl Service {
    /// How long this service takes with `practitioner`.
    pub fn duration_for(&self, practitioner: PractitionerId) -> u32 {
        self.duration_overrides.iter().find(|(p, _)| *p == practitioner).map_or(self.duration_minutes, |(_, m)| *m)
    }

    pub fn name(&self, lang: Lang) -> &str {
        match lang {
            Lang::Fr => &self.name_fr,
            Lang::En => &self.name_en,
        }
    }
}

/// The one rule for a clinic's slug (it is in the webhook URL): 2 to 50 of
/// a-z, 0-9 and "-". Clinic files and the admin API both apply it.
/// The longest a service may last, in minutes (a working day).
pub const MAX_SERVICE_MINUTES: u32 = 480;
/// The longest buffer before or after a service, in minutes.
pub const MAX_BUFFER_MINUTES: u32 = 240;
/// So no appointment blocks more than this many minutes, buffers included:
/// the occupancy of a range reads only appointments starting this much
/// before it (the admin API and clinic files keep to the two limits above).
pub const MAX_BLOCKED_MINUTES: i64 = (MAX_SERVICE_MINUTES + 2 * MAX_BUFFER_MINUTES) as i64;

pub fn check_slug(slug: &str) -> Result<(), &'static str> {
    if (2..=50).contains(&slug.len()) && slug.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-') {
        Ok(())
    } else {
        Err("2 to 50 of a-z, 0-9 and -")
    }
}

/// The one rule for how far ahead a clinic opens booking: 1 to 365 days.
pub fn check_booking_horizon(days: u32) -> Result<(), &'static str> {
    if (1..=365).contains(&days) { Ok(()) } else { Err("must be between 1 and 365") }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Patient {
    pub id: PatientId,
    pub clinic_id: ClinicId,
    pub first_name: String,
    pub last_name: String,
    pub birth_date: Option<NaiveDate>,
    /// How the patient is related to the writer of the phone they were read
    /// for ("ma fille"), when recorded at booking; `None` elsewhere.
    pub relation: Option<Relation>,
}

/// A relative of the person writing from a shared phone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Relation {
    Child,
    Son,
    Daughter,
    Mother,
    Father,
    Spouse,
    Sibling,
    Grandparent,
    Grandchild,
    OtherFamily,
}

impl Relation {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Child => "child",
            Self::Son => "son",
            Self::Daughter => "daughter",
            Self::Mother => "mother",
            Self::Father => "father",
            Self::Spouse => "spouse",
            Self::Sibling => "sibling",
            Self::Grandparent => "grandparent",
            Self::Grandchild => "grandchild",
            Self::OtherFamily => "other_family",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            Self::Child,
            Self::Son,
            Self::Daughter,
            Self::Mother,
            Self::Father,
            Self::Spouse,
            Self::Sibling,
            Self::Grandparent,
            Self::Grandchild,
            Self::OtherFamily,
        ]
        .into_iter()
        .find(|r| r.as_str() == s)
    }

    /// Whether a patient recorded as `self` is who "my `asked`" designates:
    /// "mon enfant" finds a son or a daughter, "ma fille" a daughter (or a
    /// child recorded without more detail).
    pub fn answers(self, asked: Relation) -> bool {
        self == asked
            || asked == Self::Child && matches!(self, Self::Son | Self::Daughter)
            || self == Self::Child && matches!(asked, Self::Son | Self::Daughter)
    }
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
    pub mode: ConsultationMode,
    /// When the patient confirmed they will come (answering a reminder).
    pub attendance_confirmed_at: Option<DateTime<Utc>>,
}

/// Everything the engine needs to know about one clinic to answer a patient:
/// loaded in one go per turn (a fixed number of queries, whatever the size).
#[derive(Debug, Clone)]
pub struct ClinicCatalog {
    pub clinic: Clinic,
    pub practitioners: Vec<Practitioner>,
    pub services: Vec<Service>,
    pub windows: Vec<WeeklyWindow>,
    pub holidays: Vec<Holiday>,
    pub exceptions: Vec<AvailabilityException>,
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

/// When a reminder `minutes` before an appointment starting at `start` is
/// due, counted on the clinic's wall clock: "24 hours before" a Monday 10:00
/// appointment is Sunday 10:00 local even across a DST change (the absolute
/// difference is then 23 or 25 hours). A wall time skipped by the change is
/// the first instant after the gap; a repeated one is its first occurrence.
pub fn reminder_due(start: DateTime<Utc>, minutes: u32, tz: Tz) -> DateTime<Utc> {
    use chrono::TimeZone;
    let mut wall = start.with_timezone(&tz).naive_local() - chrono::Duration::minutes(minutes as i64);
    for _ in 0..=180 {
        match tz.from_local_datetime(&wall) {
            chrono::LocalResult::Single(t) => return t.with_timezone(&Utc),
            chrono::LocalResult::Ambiguous(first, _) => return first.with_timezone(&Utc),
            chrono::LocalResult::None => wall += chrono::Duration::minutes(1),
        }
    }
    start - chrono::Duration::minutes(minutes as i64)
}

#[cfg(test)]
mod reminder_due_tests {
    use super::reminder_due;
    use chrono::{DateTime, Utc};

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn reminders_are_due_on_the_wall_clock_across_dst() {
        let paris = chrono_tz::Europe::Paris;
        // Monday 29 March 2027 09:00 CEST; 48 h before is Saturday 09:00 CET.
        assert_eq!(reminder_due(at("2027-03-29T07:00:00Z"), 48 * 60, paris), at("2027-03-27T08:00:00Z"));
        // Monday 1 November 2027 09:00 CET; 48 h before is Saturday 09:00 CEST.
        assert_eq!(reminder_due(at("2027-11-01T08:00:00Z"), 48 * 60, paris), at("2027-10-30T07:00:00Z"));
        // No DST in Kinshasa: plain subtraction.
        let kinshasa = chrono_tz::Africa::Kinshasa;
        assert_eq!(reminder_due(at("2026-11-25T09:00:00Z"), 24 * 60, kinshasa), at("2026-11-24T09:00:00Z"));
        // A reminder time in the spring gap (02:30 on 28 March 2027): 03:00 CEST.
        assert_eq!(reminder_due(at("2027-03-28T02:30:00Z"), 120, paris), at("2027-03-28T01:00:00Z"));
    }
}
