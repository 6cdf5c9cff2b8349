//! Google Calendar events as Nuru reads and writes them, without I/O: what
//! an event of a doctor's calendar means for their free time, the id of the
//! event that mirrors an appointment, and that event's text (no health data).

use crate::domain::{AppointmentId, Lang};
use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use data_encoding::BASE32HEX_NOPAD;
use google_calendar3::api::{Event, EventDateTime, EventExtendedProperties};
use std::collections::HashMap;

/// The private extended property that marks the events Nuru wrote.
pub const APPOINTMENT_PROPERTY: &str = "nuru_appointment";

/// What one event of a synchronised calendar says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// The doctor is busy then (`key` names the event in its calendar).
    Busy { key: String, start: DateTime<Utc>, end: DateTime<Utc> },
    /// The event does not, or no longer, make the doctor busy: cancelled,
    /// free ("transparent"), declined, a working location, or no time.
    Free { key: String },
    /// An event Nuru wrote for an appointment, seen again: never busy time
    /// (the appointment already is), but a deletion or a move by the doctor
    /// is a conflict for staff.
    Own { appointment: AppointmentId, start: Option<DateTime<Utc>>, cancelled: bool },
}

/// The event id that mirrors an appointment: base32hex of its UUID, in
/// lower case (Google accepts `[a-v0-9]{5,1024}`). The same appointment
/// always gives the same id, so a write repeated after a crash finds the
/// event instead of making a second one.
pub fn event_id(appointment: AppointmentId) -> String {
    BASE32HEX_NOPAD.encode(appointment.0.as_bytes()).to_ascii_lowercase()
}

/// The appointment an event id mirrors, if it is one of Nuru's.
pub fn appointment_of(event_id: &str) -> Option<AppointmentId> {
    let bytes = BASE32HEX_NOPAD.decode(event_id.to_ascii_uppercase().as_bytes()).ok()?;
    uuid::Uuid::from_slice(&bytes).ok().map(AppointmentId)
}

/// The short reference shown in the event ("Nuru #A1B2C3"), enough for staff
/// to find the appointment and nothing about the patient.
pub fn reference(appointment: AppointmentId) -> String {
    appointment.0.simple().to_string()[..6].to_ascii_uppercase()
}

fn instant(t: &EventDateTime, zone: Tz) -> Option<DateTime<Utc>> {
    if let Some(at) = t.date_time {
        return Some(at);
    }
    // An all-day event: its dates are days in the calendar's zone.
    let day: NaiveDate = t.date?;
    let zone = t.time_zone.as_deref().and_then(|z| z.parse::<Tz>().ok()).unwrap_or(zone);
    zone.from_local_datetime(&day.and_hms_opt(0, 0, 0)?).earliest().map(|d| d.with_timezone(&Utc))
}

/// What an event means for the doctor's time. `calendar` is the calendar it
/// was read from; `zone` the calendar's (or the clinic's) time zone, for
/// all-day events.
pub fn classify(calendar: &str, event: &Event, zone: Tz) -> Option<Change> {
    let id = event.id.as_deref()?;
    let key = format!("{calendar}/{id}");
    let cancelled = event.status.as_deref() == Some("cancelled");
    let own = event
        .extended_properties
        .as_ref()
        .and_then(|p| p.private.as_ref())
        .and_then(|p| p.get(APPOINTMENT_PROPERTY))
        .and_then(|a| AppointmentId::parse(a).ok())
        .or_else(|| appointment_of(id).filter(|_| cancelled));
    if let Some(appointment) = own {
        let start = event.start.as_ref().and_then(|s| instant(s, zone));
        return Some(Change::Own { appointment, start, cancelled });
    }
    let declined = event
        .attendees
        .as_ref()
        .is_some_and(|a| a.iter().any(|p| p.self_ == Some(true) && p.response_status.as_deref() == Some("declined")));
    let transparent = event.transparency.as_deref() == Some("transparent");
    let working_location = event.event_type.as_deref() == Some("workingLocation");
    if cancelled || declined || transparent || working_location {
        return Some(Change::Free { key });
    }
    let (Some(start), Some(end)) = (event.start.as_ref().and_then(|s| instant(s, zone)), event.end.as_ref().and_then(|e| instant(e, zone)))
    else {
        return Some(Change::Free { key });
    };
    if end <= start {
        return Some(Change::Free { key });
    }
    Some(Change::Busy { key, start, end })
}

/// The event that mirrors a booked appointment in the doctor's booking
/// calendar. It carries no health data: "RDV — Nuru #A1B2C3" and the
/// reference, with the patient's name only when the clinic chose to show it
/// (`patient`); the clinic's zone is set explicitly.
pub fn appointment_event(
    appointment: AppointmentId,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    zone: Tz,
    lang: Lang,
    patient: Option<&str>,
) -> Event {
    let reference = reference(appointment);
    let who = patient.map(|p| format!(" — {p}")).unwrap_or_default();
    let (summary, description) = match lang {
        Lang::Fr => (format!("RDV{who} — Nuru #{reference}"), "Rendez-vous pris par Nuru. Détails dans Nuru.".to_string()),
        Lang::En => (format!("Appointment{who} — Nuru #{reference}"), "Appointment booked through Nuru. Details in Nuru.".to_string()),
    };
    let at = |t: DateTime<Utc>| EventDateTime { date_time: Some(t), time_zone: Some(zone.name().to_string()), ..Default::default() };
    Event {
        id: Some(event_id(appointment)),
        summary: Some(summary),
        description: Some(description),
        start: Some(at(start)),
        end: Some(at(end)),
        transparency: Some("opaque".into()),
        visibility: Some("private".into()),
        extended_properties: Some(EventExtendedProperties {
            private: Some(HashMap::from([(APPOINTMENT_PROPERTY.to_string(), appointment.to_string())])),
            shared: None,
        }),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use google_calendar3::api::EventAttendee;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn timed(id: &str, start: &str, end: &str) -> Event {
        Event {
            id: Some(id.into()),
            status: Some("confirmed".into()),
            start: Some(EventDateTime { date_time: Some(at(start)), ..Default::default() }),
            end: Some(EventDateTime { date_time: Some(at(end)), ..Default::default() }),
            ..Default::default()
        }
    }

    #[test]
    fn event_ids_are_base32hex_and_round_trip() {
        let a = AppointmentId::random();
        let id = event_id(a);
        assert_eq!(id.len(), 26);
        assert!(id.chars().all(|c| c.is_ascii_digit() || ('a'..='v').contains(&c)), "{id}");
        assert_eq!(appointment_of(&id), Some(a));
        assert_eq!(event_id(a), id);
        assert_eq!(appointment_of("lunch"), None);
    }

    #[test]
    fn what_counts_as_busy() {
        let zone: Tz = "Europe/Paris".parse().unwrap();
        let e = timed("e1", "2026-12-02T12:00:00+01:00", "2026-12-02T13:30:00+01:00");
        assert_eq!(
            classify("cal", &e, zone),
            Some(Change::Busy { key: "cal/e1".into(), start: at("2026-12-02T11:00:00Z"), end: at("2026-12-02T12:30:00Z") })
        );
        let free = |e: Event| assert_eq!(classify("cal", &e, zone), Some(Change::Free { key: "cal/e1".into() }));
        free(Event { transparency: Some("transparent".into()), ..e.clone() });
        free(Event { status: Some("cancelled".into()), ..e.clone() });
        free(Event { event_type: Some("workingLocation".into()), ..e.clone() });
        free(Event {
            attendees: Some(vec![EventAttendee { self_: Some(true), response_status: Some("declined".into()), ..Default::default() }]),
            ..e.clone()
        });
        // Someone else declining leaves the doctor busy.
        let others = Event {
            attendees: Some(vec![EventAttendee { self_: None, response_status: Some("declined".into()), ..Default::default() }]),
            ..e.clone()
        };
        assert!(matches!(classify("cal", &others, zone), Some(Change::Busy { .. })));
    }

    #[test]
    fn all_day_events_block_whole_local_days() {
        let zone: Tz = "Africa/Kinshasa".parse().unwrap();
        let d = |s: &str| EventDateTime { date: Some(s.parse().unwrap()), ..Default::default() };
        let e = Event { id: Some("conf".into()), start: Some(d("2026-12-03")), end: Some(d("2026-12-05")), ..Default::default() };
        assert_eq!(
            classify("cal", &e, zone),
            Some(Change::Busy { key: "cal/conf".into(), start: at("2026-12-02T23:00:00Z"), end: at("2026-12-04T23:00:00Z") })
        );
    }

    #[test]
    fn nurus_own_events_are_recognised_not_counted() {
        let zone: Tz = "Europe/Paris".parse().unwrap();
        let a = AppointmentId::random();
        let start = at("2026-12-02T09:00:00Z");
        let e = appointment_event(a, start, at("2026-12-02T09:30:00Z"), zone, Lang::Fr, None);
        assert_eq!(classify("cal", &e, zone), Some(Change::Own { appointment: a, start: Some(start), cancelled: false }));
        assert!(e.summary.as_deref().unwrap().starts_with("RDV — Nuru #"));
        assert_eq!(e.start.as_ref().unwrap().time_zone.as_deref(), Some("Europe/Paris"));
        // A deleted event comes back with its id and status only.
        let gone = Event { id: Some(event_id(a)), status: Some("cancelled".into()), ..Default::default() };
        assert_eq!(classify("cal", &gone, zone), Some(Change::Own { appointment: a, start: None, cancelled: true }));
    }
}
