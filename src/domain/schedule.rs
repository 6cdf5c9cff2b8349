//! Scheduling rules as data: windows, exceptions, holidays, opening days,
//! consultation modes and the time already taken. The slot engine
//! (`crate::scheduling`) is the only code that interprets them.

use super::{AppointmentId, ExceptionId, PractitionerId, ServiceId};
use chrono::{DateTime, NaiveDate, Utc, Weekday};
use serde::{Deserialize, Serialize};

/// Minutes in a day: a window or exception may end at 24:00.
pub const DAY_MINUTES: u16 = 1440;

/// In person at the clinic, or remote (phone or video).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConsultationMode {
    #[default]
    InPerson,
    Remote,
}

impl ConsultationMode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InPerson => "in_person",
            Self::Remote => "remote",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "in_person" => Some(Self::InPerson),
            "remote" => Some(Self::Remote),
            _ => None,
        }
    }
}

/// A set of weekdays (bit 0 = Monday … bit 6 = Sunday).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct WeekdaySet(u8);

impl WeekdaySet {
    pub const ALL: WeekdaySet = WeekdaySet(0x7f);

    pub fn from_bits(bits: u8) -> Self {
        Self(bits & 0x7f)
    }

    pub fn bits(self) -> u8 {
        self.0
    }

    pub fn contains(self, day: Weekday) -> bool {
        self.0 & (1 << day.num_days_from_monday()) != 0
    }

    pub fn with(self, day: Weekday) -> Self {
        Self(self.0 | (1 << day.num_days_from_monday()))
    }
}

impl FromIterator<Weekday> for WeekdaySet {
    fn from_iter<I: IntoIterator<Item = Weekday>>(iter: I) -> Self {
        iter.into_iter().fold(WeekdaySet(0), WeekdaySet::with)
    }
}

/// A weekly recurring availability window, in the clinic's local time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WeeklyWindow {
    pub practitioner_id: PractitionerId,
    pub weekday: Weekday,
    /// Minutes from local midnight, `start_minute < end_minute <= 1440`.
    pub start_minute: u16,
    pub end_minute: u16,
    /// Patients accepted at the same time in this window.
    pub capacity: u32,
    /// Treatment types this window is limited to; empty means all of the
    /// practitioner's services.
    pub services: Vec<ServiceId>,
    /// The consultation mode this window is limited to; `None` means both.
    pub mode: Option<ConsultationMode>,
}

impl WeeklyWindow {
    pub fn accepts(&self, service: ServiceId, mode: ConsultationMode) -> bool {
        (self.services.is_empty() || self.services.contains(&service)) && self.mode.is_none_or(|m| m == mode)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExceptionKind {
    Leave,
    Training,
    Emergency,
    Busy,
}

impl ExceptionKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Leave => "leave",
            Self::Training => "training",
            Self::Emergency => "emergency",
            Self::Busy => "busy",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "leave" => Self::Leave,
            "training" => Self::Training,
            "emergency" => Self::Emergency,
            "busy" => Self::Busy,
            _ => return None,
        })
    }
}

/// When an exception applies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExceptionTime {
    /// A one-off interval `[start, end)` (a meeting, a half day).
    Once { start: DateTime<Utc>, end: DateTime<Utc> },
    /// Whole local days, `first..=last` (leave, training course).
    Days { first: NaiveDate, last: NaiveDate },
    /// Every `weekday` from `start_minute` to `end_minute` local time
    /// (0..1440 for the whole day), from `from` until `until` inclusive.
    Weekly { weekday: Weekday, start_minute: u16, end_minute: u16, from: NaiveDate, until: Option<NaiveDate> },
}

/// Time a practitioner (or, with no practitioner, the whole clinic) is not
/// available. The reason is for admins only: it never reaches a patient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AvailabilityException {
    pub id: ExceptionId,
    pub practitioner_id: Option<PractitionerId>,
    pub kind: ExceptionKind,
    pub reason: String,
    pub time: ExceptionTime,
}

impl AvailabilityException {
    pub fn applies_to(&self, practitioner: PractitionerId) -> bool {
        self.practitioner_id.is_none_or(|p| p == practitioner)
    }
}

/// A public holiday: the clinic is closed all day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holiday {
    pub date: NaiveDate,
    pub name: String,
}

/// Time a booked appointment takes from its practitioner: the appointment
/// itself and, around it, the service's buffers (`blocked_from..blocked_until`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BookedTime {
    pub appointment_id: AppointmentId,
    pub practitioner_id: PractitionerId,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub blocked_from: DateTime<Utc>,
    pub blocked_until: DateTime<Utc>,
}

/// A half-open interval `[start, end)` during which a practitioner is busy
/// elsewhere (a Google Calendar event, later): it blocks whatever the capacity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BusyInterval {
    pub practitioner_id: PractitionerId,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

/// Everything already taken in a range of time, as the slot engine reads it.
#[derive(Debug, Clone, Default)]
pub struct Occupancy {
    pub booked: Vec<BookedTime>,
    pub external: Vec<BusyInterval>,
}

impl Occupancy {
    /// Adds what a read of an adjacent range found. An appointment or busy
    /// interval that straddles the boundary was in both reads and is kept once.
    pub fn extend(&mut self, other: Occupancy) {
        let seen: std::collections::HashSet<AppointmentId> = self.booked.iter().map(|b| b.appointment_id).collect();
        self.booked.extend(other.booked.into_iter().filter(|b| !seen.contains(&b.appointment_id)));
        let seen: std::collections::HashSet<BusyInterval> = self.external.iter().copied().collect();
        self.external.extend(other.external.into_iter().filter(|b| !seen.contains(b)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Datelike;

    #[test]
    fn extending_occupancy_keeps_what_straddles_the_boundary_once() {
        let at = |h: i64| DateTime::<Utc>::from_timestamp(h * 3600, 0).unwrap();
        let p = PractitionerId::random();
        let booked = |id, a, b| BookedTime {
            appointment_id: id,
            practitioner_id: p,
            start: at(a),
            end: at(b),
            blocked_from: at(a),
            blocked_until: at(b),
        };
        let (a1, a2, a3) = (AppointmentId::random(), AppointmentId::random(), AppointmentId::random());
        let busy = BusyInterval { practitioner_id: p, start: at(9), end: at(11) };
        let mut first = Occupancy { booked: vec![booked(a1, 1, 2), booked(a2, 9, 11)], external: vec![busy] };
        first.extend(Occupancy { booked: vec![booked(a2, 9, 11), booked(a3, 12, 13)], external: vec![busy] });
        let ids: Vec<_> = first.booked.iter().map(|b| b.appointment_id).collect();
        assert_eq!(ids, vec![a1, a2, a3]);
        assert_eq!(first.external, vec![busy]);
    }

    #[test]
    fn weekday_sets() {
        let s: WeekdaySet = [Weekday::Mon, Weekday::Sat].into_iter().collect();
        assert!(s.contains(Weekday::Mon) && s.contains(Weekday::Sat) && !s.contains(Weekday::Sun));
        assert_eq!(WeekdaySet::from_bits(s.bits()), s);
        assert!(Weekday::Sun.num_days_from_monday() == 6 && WeekdaySet::ALL.contains(Weekday::Sun));
        let _ = NaiveDate::from_ymd_opt(2026, 1, 1).unwrap().weekday();
    }
}
