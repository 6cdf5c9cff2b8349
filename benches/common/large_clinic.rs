//! The large clinic of the benchmarks: `practitioners` doctors working
//! Mon–Fri 08–12 and 14–17 and Saturday morning, 30-minute consultations
//! with a 5-minute buffer after, `appointments` on the grid of their windows
//! from 4 weeks before `start_day` to 8 weeks after, `exceptions` of every
//! kind. Shared by `slots` (a fixed day) and `capacity` (today).
#![allow(dead_code)]

use chrono::{DateTime, Duration, NaiveDate, Utc, Weekday};
use nuru::domain::*;
use nuru::storage::{NewAppointment, Store, TwilioCredentials};
use uuid::Uuid;

pub struct Setup {
    pub catalog: ClinicCatalog,
    pub occupancy: Occupancy,
}

fn pid(i: usize) -> PractitionerId {
    PractitionerId(Uuid::from_u128(1 + i as u128))
}

/// `practitioners` doctors working Mon–Fri 08–12 and 14–17 and Saturday
/// morning, 30-minute consultations with a 5-minute buffer after,
/// `appointments` spread over 12 weeks around now, `exceptions` of every kind.
pub fn setup(start_day: NaiveDate, practitioners: usize, appointments: usize, exceptions: usize) -> Setup {
    let tz = chrono_tz::Africa::Kinshasa;
    let clinic_id = ClinicId(Uuid::from_u128(99));
    let ps: Vec<PractitionerId> = (0..practitioners).map(pid).collect();
    let mut windows = Vec::new();
    for p in &ps {
        for d in [Weekday::Mon, Weekday::Tue, Weekday::Wed, Weekday::Thu, Weekday::Fri] {
            for (from, to) in [(480, 720), (840, 1020)] {
                windows.push(WeeklyWindow {
                    practitioner_id: *p,
                    weekday: d,
                    start_minute: from,
                    end_minute: to,
                    capacity: 1,
                    services: vec![],
                    mode: None,
                });
            }
        }
        windows.push(WeeklyWindow {
            practitioner_id: *p,
            weekday: Weekday::Sat,
            start_minute: 480,
            end_minute: 720,
            capacity: 1,
            services: vec![],
            mode: None,
        });
    }
    let service = Service {
        id: ServiceId(Uuid::from_u128(7)),
        clinic_id,
        name_fr: "consultation".into(),
        name_en: "consultation".into(),
        duration_minutes: 30,
        buffer_before_minutes: 0,
        buffer_after_minutes: 5,
        practitioners: ps.clone(),
        duration_overrides: vec![],
        price: None,
    };
    let practitioners_list = ps
        .iter()
        .enumerate()
        .map(|(i, p)| Practitioner {
            id: *p,
            clinic_id,
            title: "Dr".into(),
            first_name: format!("F{i}"),
            last_name: format!("L{i}"),
            active: true,
            daily_limit: if i % 4 == 0 { Some(12) } else { None },
        })
        .collect();
    let mut exc = Vec::new();
    for i in 0..exceptions {
        let p = Some(ps[i % ps.len()]);
        let day = start_day + Duration::days((i * 7 % 28) as i64);
        let time = match i % 3 {
            0 => {
                let s = nuru::scheduling::local_instant(tz, day.and_hms_opt(9 + (i % 3) as u32, 0, 0).unwrap());
                ExceptionTime::Once { start: s, end: s + Duration::hours(1) }
            }
            1 => ExceptionTime::Days { first: day, last: day },
            _ => ExceptionTime::Weekly {
                weekday: Weekday::try_from((i % 6) as u8).unwrap(),
                start_minute: 900,
                end_minute: 960,
                from: start_day,
                until: Some(start_day + Duration::days(60)),
            },
        };
        exc.push(AvailabilityException {
            id: ExceptionId(Uuid::from_u128(1000 + i as u128)),
            practitioner_id: p,
            kind: ExceptionKind::Busy,
            reason: String::new(),
            time,
        });
    }
    let catalog = ClinicCatalog {
        clinic: Clinic {
            id: clinic_id,
            slug: "bench".into(),
            name: "Bench".into(),
            timezone: tz,
            default_language: Lang::Fr,
            address: String::new(),
            phone: None,
            emergency_number: "112".into(),
            opening_hours_fr: None,
            opening_hours_en: None,
            answers: vec![],
            model_policy: ModelPolicy::Any,
            calendar_patient_names: false,
            booking_horizon_days: 120,
            min_notice_minutes: 60,
            opening_days: WeekdaySet::ALL,
            whatsapp_number: None,
            sms_number: None,
        },
        practitioners: practitioners_list,
        services: vec![service],
        windows,
        holidays: vec![Holiday { date: start_day + Duration::days(32), name: "Noël".into() }],
        exceptions: exc,
    };
    // Appointments on the grid of the practitioners' windows, from 4 weeks
    // before now to 8 weeks after, as dense as the count asks.
    let first = start_day - Duration::days(28);
    let mut grid = Vec::new();
    for d in 0..84 {
        let day = first + Duration::days(d);
        for (i, p) in ps.iter().enumerate() {
            for m in (480..720).step_by(30).chain((840..1020).step_by(30)) {
                if chrono::Datelike::weekday(&day) != Weekday::Sun {
                    grid.push((i, *p, nuru::scheduling::local_instant(tz, day.and_hms_opt(0, 0, 0).unwrap() + Duration::minutes(m))));
                }
            }
        }
    }
    let step = (grid.len() as f64 / appointments.max(1) as f64).max(1.0);
    let booked = (0..appointments.min(grid.len()))
        .map(|k| {
            let (_, p, start) = grid[(k as f64 * step) as usize];
            BookedTime {
                appointment_id: AppointmentId(Uuid::from_u128(100_000 + k as u128)),
                practitioner_id: p,
                start,
                end: start + Duration::minutes(30),
                blocked_from: start,
                blocked_until: start + Duration::minutes(35),
            }
        })
        .collect();
    Setup { catalog, occupancy: Occupancy { booked, external: vec![] } }
}

/// Writes the clinic (with `twilio`, if any) and its appointments, all for
/// one patient, as booked by staff at `now`.
pub async fn store(s: &Setup, store: &Store, twilio: Option<&TwilioCredentials>, now: DateTime<Utc>) -> anyhow::Result<()> {
    store.upsert_catalog(&s.catalog, twilio, now).await?;
    let clinic = s.catalog.clinic.id;
    let mut tx = store.begin().await?;
    let phone = PhoneNumber::parse("+243990000001").map_err(anyhow::Error::msg)?;
    let patient = Store::create_patient(&mut tx, clinic, "Bench", "Patient", None, &phone, now).await?.id;
    for b in &s.occupancy.booked {
        let a = NewAppointment {
            clinic_id: clinic,
            practitioner_id: b.practitioner_id,
            patient_id: patient,
            service_id: s.catalog.services[0].id,
            mode: ConsultationMode::InPerson,
            starts_at: b.start,
            ends_at: b.end,
            blocked_from: b.blocked_from,
            blocked_until: b.blocked_until,
            source: "staff",
            conversation_id: None,
        };
        Store::insert_appointment(&mut tx, &a, now).await?;
    }
    tx.commit().await?;
    Ok(())
}
