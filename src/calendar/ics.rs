//! iCalendar (RFC 5545) output: one file per appointment (linked from the
//! confirmation message) and a subscribable feed per practitioner. The
//! `icalendar` crate does the writing (escaping, CRLF, 75-octet folding);
//! this module decides what goes in. Titles and descriptions carry no health
//! data: no service name, no reason, no patient name; times are UTC.

use crate::domain::*;
use chrono::{DateTime, Utc};
use icalendar::{Calendar, Component, Event, EventLike, EventStatus};

const PRODID: &str = "-//Nuru//Clinic secretary//EN";

fn uid(id: AppointmentId) -> String {
    format!("{}@nuru", id.0.simple())
}

fn calendar(name: &str) -> Calendar {
    let mut cal = Calendar::empty();
    cal.append_property(("VERSION", "2.0"));
    cal.append_property(("PRODID", PRODID));
    cal.append_property(("CALSCALE", "GREGORIAN"));
    cal.append_property(("METHOD", "PUBLISH"));
    cal.name(name);
    cal
}

fn event(a: &Appointment, summary: &str, description: &str, location: &str, now: DateTime<Utc>) -> Event {
    let mut e = Event::new();
    e.uid(&uid(a.id)).timestamp(now).starts(a.starts_at).ends(a.ends_at).summary(summary).description(description);
    if !location.is_empty() {
        e.location(location);
    }
    e.status(if a.status == AppointmentStatus::Cancelled { EventStatus::Cancelled } else { EventStatus::Confirmed });
    e.done()
}

/// The patient's copy of one appointment, in their language.
pub fn appointment_file(catalog: &ClinicCatalog, a: &Appointment, lang: Lang, now: DateTime<Utc>) -> String {
    let clinic = &catalog.clinic;
    let who = catalog.practitioner(a.practitioner_id).map(Practitioner::display_name).unwrap_or_default();
    let (summary, description) = match lang {
        Lang::Fr => (format!("Rendez-vous – {}", clinic.name), format!("Avec {who}. {}", contact(clinic))),
        Lang::En => (format!("Appointment – {}", clinic.name), format!("With {who}. {}", contact(clinic))),
    };
    let location = if a.mode == ConsultationMode::Remote { String::new() } else { clinic.address.clone() };
    let mut cal = calendar(&clinic.name);
    cal.push(event(a, &summary, &description, &location, now));
    cal.done().to_string()
}

fn contact(clinic: &Clinic) -> String {
    clinic.phone.as_deref().map(|p| format!("Tel. {p}")).unwrap_or_default().trim().to_string()
}

/// A practitioner's feed: their appointments, booked and cancelled (so
/// subscribed calendars remove cancelled ones). Each event is labelled with a
/// short reference staff can look up, never with the patient's name.
pub fn practitioner_feed(catalog: &ClinicCatalog, practitioner: &Practitioner, appointments: &[Appointment], now: DateTime<Utc>) -> String {
    let mut cal = calendar(&format!("{} – {}", practitioner.display_name(), catalog.clinic.name));
    for a in appointments.iter().filter(|a| a.practitioner_id == practitioner.id) {
        let reference = &a.id.0.simple().to_string()[..8];
        let mode = match a.mode {
            ConsultationMode::InPerson => "",
            ConsultationMode::Remote => " (remote)",
        };
        cal.push(event(a, &format!("Nuru appointment{mode}"), &format!("Ref. {reference}"), &catalog.clinic.address, now));
    }
    cal.done().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    #[test]
    fn long_accented_text_is_folded_on_character_boundaries() {
        let mut catalog_clinic_name = String::from("Centre médical évangélique de Lubumbashi");
        catalog_clinic_name.push_str(" — été, hiver; « chez nous » é è à ç ô û ï ü ÿ æ œ");
        let clinic = Clinic {
            id: ClinicId(Uuid::nil()),
            slug: "x".into(),
            name: catalog_clinic_name.clone(),
            timezone: chrono_tz::Africa::Lubumbashi,
            default_language: Lang::Fr,
            address: "Quartier Industriel, 3e rue; près de l'église".into(),
            phone: Some("+243990000000".into()),
            emergency_number: "112".into(),
            opening_hours_fr: None,
            opening_hours_en: None,
            answers: vec![],
            model_policy: ModelPolicy::Any,
            calendar_patient_names: false,
            booking_horizon_days: 30,
            min_notice_minutes: 0,
            opening_days: WeekdaySet::ALL,
            whatsapp_number: None,
            sms_number: None,
        };
        let p = Practitioner {
            id: PractitionerId(Uuid::nil()),
            clinic_id: clinic.id,
            title: "Dr".into(),
            first_name: "Élodie".into(),
            last_name: "Mwamba-Kabongo".into(),
            active: true,
            daily_limit: None,
        };
        let catalog = ClinicCatalog {
            clinic,
            practitioners: vec![p.clone()],
            services: vec![],
            windows: vec![],
            holidays: vec![],
            exceptions: vec![],
        };
        let a = Appointment {
            id: AppointmentId(Uuid::from_u128(7)),
            clinic_id: catalog.clinic.id,
            practitioner_id: p.id,
            patient_id: PatientId(Uuid::nil()),
            service_id: ServiceId(Uuid::nil()),
            starts_at: "2026-11-30T06:00:00Z".parse().unwrap(),
            ends_at: "2026-11-30T06:30:00Z".parse().unwrap(),
            status: AppointmentStatus::Booked,
            mode: ConsultationMode::InPerson,
            attendance_confirmed_at: None,
        };
        let text = appointment_file(&catalog, &a, Lang::Fr, "2026-11-22T10:00:00Z".parse().unwrap());
        for line in text.split("\r\n") {
            assert!(line.len() <= 75, "{line:?}");
        }
        // Unfolding gives back the whole, escaped, summary.
        let unfolded = text.replace("\r\n ", "");
        assert!(
            unfolded.contains(&format!("SUMMARY:Rendez-vous – {}", catalog_clinic_name.replace(',', "\\,").replace(';', "\\;"))),
            "{unfolded}"
        );
        let cal = ical::IcalParser::new(std::io::BufReader::new(text.as_bytes())).next().unwrap().unwrap();
        assert_eq!(cal.events.len(), 1);
        assert!(text.contains("DTSTAMP:20261122T100000Z"));
    }
}
