//! Every state × every intent through the pure `step`, checking the rules
//! that must hold whatever the combination.

use super::*;
use crate::clinic_file::{ClinicFile, DEMO_CLINIC};
use crate::conversation::state::*;
use crate::domain::*;
use crate::scheduling::Slot;
use crate::storage::UpcomingAppointment;
use crate::understanding::{Entities, Extraction, Intent};
use chrono::{DateTime, Utc};

/// A French extraction of `intent` with these entities and signals, the
/// rest left empty: what the safety tests feed the step.
fn understood(intent: Intent, entities: Entities, signals: crate::understanding::Signals) -> Extraction {
    Extraction {
        intent,
        language: Lang::Fr,
        entities,
        confidence: 0.9,
        signals,
        name_reply: None,
        stated_name: None,
        mentions: Default::default(),
    }
}

fn at(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

/// What every test here has read of the occupancy.
fn span() -> (DateTime<Utc>, DateTime<Utc>) {
    (at("2026-11-22T00:00:00Z"), at("2027-06-01T00:00:00Z"))
}

fn states(catalog: &ClinicCatalog, patient: PatientId, appointment: AppointmentId) -> Vec<(&'static str, Conversation)> {
    let kabeya = catalog.practitioners.iter().find(|p| p.last_name == "Kabeya").unwrap().id;
    let consultation = catalog.services.iter().find(|s| s.name_en == "consultation").unwrap().id;
    let slot = Slot { practitioner_id: kabeya, start: at("2026-11-24T07:00:00Z"), end: at("2026-11-24T07:30:00Z"), capacity: 1 };
    let booking = |stage: Stage| {
        Flow::Booking(Box::new(Booking {
            service: Some(consultation),
            patient: Some(PatientChoice::Existing { id: patient }),
            stage,
            ..Booking::default()
        }))
    };
    let change = |stage: ChangeStage| Change { appointment: Some(appointment), stage, ..Change::default() };
    let flows = vec![
        ("idle", Flow::Idle),
        ("handed_off", Flow::HandedOff),
        ("booking/start", booking(Stage::Start)),
        ("booking/ask_service", booking(Stage::AskService { options: catalog.services.iter().map(|s| s.id).collect() })),
        ("booking/ask_day", booking(Stage::AskDay)),
        ("booking/choose_slot", booking(Stage::ChooseSlot { offered: vec![slot] })),
        ("booking/choose_patient", booking(Stage::ChoosePatient { slot, options: vec![patient] })),
        ("booking/ask_name", booking(Stage::AskName { slot })),
        ("booking/ask_birth_date", booking(Stage::AskBirthDate { slot })),
        ("booking/confirm", booking(Stage::Confirm { slot, service: consultation, patient: PatientChoice::Existing { id: patient } })),
        ("cancelling/choose", Flow::Cancelling(change(ChangeStage::Choose { options: vec![appointment] }))),
        ("cancelling/confirm", Flow::Cancelling(change(ChangeStage::ConfirmCancel))),
        ("moving/choose", Flow::Moving(Box::new(change(ChangeStage::Choose { options: vec![appointment] })))),
        ("moving/choose_slot", Flow::Moving(Box::new(change(ChangeStage::ChooseSlot { offered: vec![slot] })))),
        ("moving/confirm", Flow::Moving(Box::new(change(ChangeStage::ConfirmMove { slot })))),
        ("file/choose_patient", Flow::File(FileQuestion { question: 1, patient: None, stage: FileStage::ChoosePatient, tries: 0 })),
        ("file/birth_date", Flow::File(FileQuestion { question: 1, patient: Some(patient), stage: FileStage::BirthDate, tries: 0 })),
        ("attach/choose_patient", Flow::Attach(AttachFile { message: 1, patient: None, stage: AttachStage::ChoosePatient })),
        ("attach/confirm", Flow::Attach(AttachFile { message: 1, patient: Some(patient), stage: AttachStage::Confirm })),
    ];
    flows.into_iter().map(|(name, flow)| (name, Conversation { flow, ..Conversation::default() })).collect()
}

fn is_confirm(c: &Conversation) -> bool {
    match &c.flow {
        Flow::Booking(b) => matches!(b.stage, Stage::Confirm { .. }),
        Flow::Cancelling(c) => matches!(c.stage, ChangeStage::ConfirmCancel),
        Flow::Moving(c) => matches!(c.stage, ChangeStage::ConfirmMove { .. }),
        _ => false,
    }
}

#[test]
fn every_state_and_intent_keeps_the_safety_rules() {
    let (catalog, patient, appointment) = confirm_context();
    let upcoming =
        [UpcomingAppointment { appointment: appointment.clone(), patient_first_name: "Awa".into(), patient_last_name: "Mendy".into() }];
    let occupancy = Occupancy::default();
    let patients = [patient.clone()];
    let asks = super::super::turn::Asks::default();
    let ctx = TurnContext {
        patients: &patients,
        upcoming: &upcoming,
        documents: Some((super::super::turn::DocumentQuery::default(), &[])),
        ..TurnContext::for_tests(at("2026-11-23T08:15:00Z"), &catalog, &occupancy, span(), &asks)
    };
    let mut cases = 0;
    for (name, state) in states(&catalog, patient.id, appointment.id) {
        for intent in Intent::ALL {
            for choice in [None, Some(1)] {
                let x = understood(intent, Entities { choice, ..Entities::default() }, Default::default());
                ctx.attach_wanted.set(None);
                let out = step(&state, Lang::Fr, Event::Message { understood: &x, language: None, idle_reset: false }, &ctx);
                let case = format!("{name} × {intent:?} × choice {choice:?}");
                if ctx.attach_wanted.get().is_some() {
                    assert!(name == "attach/confirm" && intent == Intent::Affirmative, "{case}: a file is added only on an explicit yes");
                }
                cases += 1;
                let writes = out.effects.iter().filter(|e| matches!(e, Effect::Book(_) | Effect::Cancel(_) | Effect::Move { .. })).count();
                let replies = out.effects.iter().filter(|e| matches!(e, Effect::Reply(_))).count();
                if intent == Intent::Emergency {
                    assert!(out.effects.contains(&Effect::Urgent), "{case}: staff alerted");
                    assert!(
                        out.effects.iter().any(|e| matches!(e, Effect::Reply(r) if r.contains("112"))),
                        "{case}: emergency number given"
                    );
                    assert_eq!(writes, 0, "{case}: an emergency writes nothing");
                    continue;
                }
                if writes > 0 {
                    assert!(is_confirm(&state), "{case}: a write only from a confirmation stage");
                    assert!(intent == Intent::Affirmative || choice == Some(1), "{case}: a write only on an explicit yes");
                    assert_eq!(writes, 1, "{case}: one write per turn");
                    assert_eq!(out.state.flow, Flow::Idle, "{case}: the flow ends after the write");
                }
                if state.flow == Flow::HandedOff {
                    assert!(out.effects.is_empty(), "{case}: the bot stays silent while staff own the conversation");
                    assert_eq!(out.state.flow, Flow::HandedOff, "{case}: only staff release it");
                } else {
                    assert!(replies >= 1, "{case}: every turn gets an answer");
                }
            }
        }
    }
    assert_eq!(cases, 19 * 12 * 2);
}

/// After a reminder, in the idle state: every intent × choice × "I'll be
/// there" signal. The only write is the attendance, on "1", a yes or "je
/// serai là"; "2" and "3" only open the usual flows, whose writes need their
/// own confirmation.
#[test]
fn answers_to_a_reminder_write_only_the_attendance() {
    let (catalog, patient, appointment) = confirm_context();
    let upcoming =
        [UpcomingAppointment { appointment: appointment.clone(), patient_first_name: "Awa".into(), patient_last_name: "Mendy".into() }];
    let occupancy = Occupancy::default();
    let patients = [patient.clone()];
    let asks = super::super::turn::Asks::default();
    let ctx = TurnContext {
        patients: &patients,
        upcoming: &upcoming,
        reminded: Some(appointment.id),
        documents: Some((super::super::turn::DocumentQuery::default(), &[])),
        ..TurnContext::for_tests(at("2026-11-23T08:15:00Z"), &catalog, &occupancy, span(), &asks)
    };
    for intent in Intent::ALL {
        for choice in [None, Some(1), Some(2), Some(3), Some(4)] {
            for attending in [false, true] {
                let signals = crate::understanding::Signals { attending, ..Default::default() };
                let x = understood(intent, Entities { choice, ..Entities::default() }, signals);
                let out =
                    step(&Conversation::default(), Lang::Fr, Event::Message { understood: &x, language: None, idle_reset: false }, &ctx);
                let case = format!("{intent:?} × choice {choice:?} × attending {attending}");
                let writes = out.effects.iter().filter(|e| matches!(e, Effect::Book(_) | Effect::Cancel(_) | Effect::Move { .. })).count();
                assert_eq!(writes, 0, "{case}: no booking, cancellation or move straight from a reminder");
                let confirmed = out.effects.contains(&Effect::ConfirmAttendance(appointment.id));
                if confirmed {
                    assert!(
                        intent == Intent::Emergency || choice == Some(1) || attending || intent == Intent::Affirmative,
                        "{case}: attendance only on 1, a yes or I'll be there"
                    );
                }
                if intent == Intent::Emergency {
                    assert!(!confirmed, "{case}: an emergency confirms nothing");
                }
                if choice == Some(2) && intent != Intent::Emergency && intent != Intent::HumanHandoff {
                    assert!(matches!(out.state.flow, Flow::Cancelling(_)), "{case}: 2 asks to confirm the cancellation");
                }
            }
        }
    }
}

/// Every intent, with and without a rating, a number, thanks or a slot,
/// read in answer to a feedback request (before and after the rating): the
/// only write is the feedback itself, a rating is recorded only when the
/// message is one, and an emergency or a booking request is never taken
/// for feedback.
#[test]
fn answers_to_a_feedback_request_write_only_the_feedback() {
    use crate::domain::{AwaitedFeedback, FeedbackAnswer};
    use crate::understanding::Rating;
    let (catalog, _) = ClinicFile::parse(DEMO_CLINIC).unwrap().into_catalog().unwrap();
    let occupancy = Occupancy::default();
    let asks = super::super::turn::Asks::default();
    for rated in [false, true] {
        let ctx = TurnContext {
            channel: Channel::Sms,
            feedback: Some(AwaitedFeedback { request: 7, rated }),
            documents: Some((super::super::turn::DocumentQuery::default(), &[])),
            ..TurnContext::for_tests(at("2026-11-23T08:15:00Z"), &catalog, &occupancy, span(), &asks)
        };
        for intent in Intent::ALL {
            for rating in [None, Some(Rating { score: 2, with_comment: false }), Some(Rating { score: 5, with_comment: true })] {
                for (closing, date) in [(false, false), (true, false), (false, true)] {
                    let signals = crate::understanding::Signals { rating, closing, ..Default::default() };
                    let date = date.then(|| chrono::NaiveDate::from_ymd_opt(2026, 11, 25).unwrap());
                    let x = understood(intent, Entities { date, ..Entities::default() }, signals);
                    let out = step(
                        &Conversation::default(),
                        Lang::Fr,
                        Event::Message { understood: &x, language: None, idle_reset: false },
                        &ctx,
                    );
                    let case = format!("rated {rated} × {intent:?} × {rating:?} × closing {closing} × date {date:?}");
                    let writes = out
                        .effects
                        .iter()
                        .filter(|e| matches!(e, Effect::Book(_) | Effect::Cancel(_) | Effect::Move { .. } | Effect::ConfirmAttendance(_)))
                        .count();
                    assert_eq!(writes, 0, "{case}: nothing but feedback from a feedback request");
                    let feedback: Vec<_> = out
                        .effects
                        .iter()
                        .filter_map(|e| match e {
                            Effect::Feedback { request, answer, keep_waiting } => Some((*request, *answer, *keep_waiting)),
                            _ => None,
                        })
                        .collect();
                    assert!(feedback.len() <= 1, "{case}: one answer at most");
                    if let Some((request, answer, _)) = feedback.first() {
                        assert_eq!(*request, 7, "{case}: the request awaited");
                        assert!(!matches!(intent, Intent::Emergency | Intent::BookAppointment | Intent::HumanHandoff), "{case}");
                        if let Some(FeedbackAnswer::Rating { score, .. }) = answer {
                            assert!(!rated, "{case}: rated once");
                            assert_eq!(Some(*score), rating.map(|r| r.score), "{case}: the rating the message gives");
                        }
                    }
                    if rated {
                        assert!(
                            !feedback.iter().any(|(_, a, _)| matches!(a, Some(FeedbackAnswer::Rating { .. }))),
                            "{case}: no second rating"
                        );
                    }
                    if !rated && rating.is_some() && matches!(intent, Intent::Unknown | Intent::Affirmative | Intent::Negative) {
                        assert!(
                            matches!(feedback.first(), Some((_, Some(FeedbackAnswer::Rating { .. }), _))),
                            "{case}: a rating is recorded"
                        );
                    }
                }
            }
        }
    }
}

/// Yes-words and refusal, keep, wait and change-of-mind parts, the way
/// patients write them (French, English, Pidgin, SMS, with and without
/// accents), for the confirmation gate's property test.
const YES_PARTS: &[&str] = &[
    "oui",
    "ouii",
    "ok",
    "okay",
    "d'accord",
    "dacc",
    "oui c'est bon",
    "ça me va",
    "ca me va",
    "yes",
    "yeah",
    "yes o",
    "e do",
    "👍",
    "oui oui",
    "ok merci",
    "parfait",
    "c'est ok",
    "sure",
    "alright",
    "oui svp",
    "1",
];
const CONTRARY_PARTS: &[&str] = &[
    "non",
    "nn",
    "no",
    "not now",
    "pas maintenant",
    "mais attendez",
    "mais attends",
    "attends",
    "wait",
    "hold on",
    "make you wait first",
    "finalement non",
    "j'ai changé d'avis",
    "jai change davis",
    "I changed my mind",
    "actually no",
    "je garde le rdv",
    "keep it",
    "keep am",
    "laissez comme ça",
    "leave it as it is",
    "plus tard",
    "later",
    "je vais réfléchir",
    "let me think",
    "je ne veux pas",
    "je veux pas",
    "I don't want",
    "don't do it",
    "no do am",
    "pa maintenant",
    "plutôt jeudi",
    "rather on Thursday",
    "but not today",
    "sauf si c'est le matin",
    "unless it's the morning",
    "jamais",
    "never mind",
];

fn confirm_context() -> (ClinicCatalog, Patient, Appointment) {
    let (catalog, _) = ClinicFile::parse(DEMO_CLINIC).unwrap().into_catalog().unwrap();
    let patient = Patient {
        id: PatientId::random(),
        clinic_id: catalog.clinic.id,
        first_name: "Awa".into(),
        last_name: "Mendy".into(),
        birth_date: None,
        relation: None,
    };
    let kabeya = catalog.practitioners.iter().find(|p| p.last_name == "Kabeya").unwrap().id;
    let appointment = Appointment {
        id: AppointmentId::random(),
        clinic_id: catalog.clinic.id,
        practitioner_id: kabeya,
        patient_id: patient.id,
        service_id: catalog.services[0].id,
        starts_at: at("2026-11-25T09:00:00Z"),
        ends_at: at("2026-11-25T09:30:00Z"),
        status: AppointmentStatus::Booked,
        mode: ConsultationMode::InPerson,
        attendance_confirmed_at: None,
    };
    (catalog, patient, appointment)
}

/// Whether `text`, answered at each confirmation stage, writes: (stage,
/// wrote) for booking, cancelling, moving and adding a file.
fn writes_at_confirmations(text: &str) -> Vec<(&'static str, bool)> {
    static CONTEXT: std::sync::OnceLock<(ClinicCatalog, Patient, Appointment)> = std::sync::OnceLock::new();
    let (catalog, patient, appointment) = CONTEXT.get_or_init(confirm_context);
    let (patient, appointment) = (patient.clone(), appointment.clone());
    let upcoming =
        [UpcomingAppointment { appointment: appointment.clone(), patient_first_name: "Awa".into(), patient_last_name: "Mendy".into() }];
    let occupancy = Occupancy::default();
    let patients = [patient.clone()];
    let asks = super::super::turn::Asks::default();
    let ctx = TurnContext {
        patients: &patients,
        upcoming: &upcoming,
        documents: Some((super::super::turn::DocumentQuery::default(), &[])),
        ..TurnContext::for_tests(at("2026-11-23T08:15:00Z"), catalog, &occupancy, span(), &asks)
    };
    let x = crate::understanding::extract(text, at("2026-11-23T08:15:00Z").naive_utc(), None);
    let mut out = Vec::new();
    for (name, state) in states(catalog, patient.id, appointment.id) {
        if !name.ends_with("/confirm") {
            continue;
        }
        ctx.attach_wanted.set(None);
        let o = step(&state, Lang::Fr, Event::Message { understood: &x, language: None, idle_reset: false }, &ctx);
        let wrote = ctx.attach_wanted.get().is_some()
            || o.effects.iter().any(|e| matches!(e, Effect::Book(_) | Effect::Cancel(_) | Effect::Move { .. }));
        out.push((name, wrote));
    }
    assert_eq!(out.len(), 4, "booking, cancelling, moving and attach confirmations");
    out
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig { cases: 512, ..Default::default() })]

    /// The confirmation gate: a yes carrying any refusal, keep, wait or
    /// change-of-mind part, in either order, with any joiner, writes
    /// nothing at any confirmation.
    #[test]
    fn a_yes_with_anything_against_it_writes_nothing(
        yes in proptest::sample::select(YES_PARTS),
        against in proptest::sample::select(CONTRARY_PARTS),
        joiner in proptest::sample::select(&[", ", " ", "... ", " - ", ". ", " mais ", " but "][..]),
        yes_first in proptest::bool::ANY,
        shout in proptest::bool::ANY,
    ) {
        let text = if yes_first { format!("{yes}{joiner}{against}") } else { format!("{against}{joiner}{yes}") };
        let text = if shout { text.to_uppercase() } else { text };
        for (stage, wrote) in writes_at_confirmations(&text) {
            proptest::prop_assert!(!wrote, "{stage}: {text:?} wrote");
        }
    }
}

/// The same, over every pair of parts in both orders (the generated space
/// is small enough to walk whole).
#[test]
fn every_yes_with_every_part_against_it_writes_nothing() {
    let mut checked = 0;
    for yes in YES_PARTS {
        for against in CONTRARY_PARTS {
            for text in [format!("{yes}, {against}"), format!("{against} {yes}")] {
                for (stage, wrote) in writes_at_confirmations(&text) {
                    assert!(!wrote, "{stage}: {text:?} wrote");
                }
                checked += 1;
            }
        }
    }
    assert_eq!(checked, YES_PARTS.len() * CONTRARY_PARTS.len() * 2);
}

/// The gate is not a wall: a plain yes, in any of its forms, writes at every
/// confirmation (without this, the property above would hold for a gate
/// that never opens).
#[test]
fn a_plain_yes_writes_at_every_confirmation() {
    for yes in YES_PARTS {
        for (stage, wrote) in writes_at_confirmations(yes) {
            // Adding a file asks for a yes or a no, not a number.
            let offered = !(stage == "attach/confirm" && *yes == "1");
            assert_eq!(wrote, offered, "{stage}: {yes:?} should be a yes to the question asked");
        }
    }
}
