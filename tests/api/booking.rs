use crate::helpers::*;
use nuru::domain::AppointmentStatus;

const PATIENT: &str = "+243990000001";

#[tokio::test]
async fn a_new_patient_books_over_signed_webhooks() {
    let app = spawn_app().await;
    let r = app.say(PATIENT, "Bonjour, je voudrais un rdv demain matin pour une consultation").await;
    assert_eq!(r.len(), 1);
    assert!(r[0].contains("mardi 24 novembre à 08:00"), "{}", r[0]);
    assert!(r[0].contains("1."), "numbered list: {}", r[0]);

    let r = app.say(PATIENT, "1").await;
    assert!(r[0].contains("le prénom, le nom et la date de naissance"), "{}", r[0]);
    let r = app.say(PATIENT, "Awa Mendy").await;
    assert!(r[0].contains("date de naissance"), "{}", r[0]);
    let r = app.say(PATIENT, "15/05/1990").await;
    assert!(r[0].contains("Répondez 1 pour confirmer"), "{}", r[0]);
    assert!(r[0].contains("Awa Mendy") && r[0].contains("Dr Jean Kabeya"), "{}", r[0]);
    assert!(app.store.appointments(app.clinic.clinic.id).await.unwrap().is_empty(), "nothing booked before confirmation");

    let r = app.say(PATIENT, "oui").await;
    assert!(r[0].contains("C'est réservé"), "{}", r[0]);
    assert!(r[0].contains("12 avenue de la Justice"), "address given: {}", r[0]);
    // The confirmation links the appointment's calendar file, which the app serves.
    let link = r[0].split_whitespace().find(|w| w.starts_with(PUBLIC_BASE)).expect("calendar link").to_string();
    assert!(link.contains("/calendar/appointments/") && link.ends_with(".ics"), "{link}");
    let local = link.replace(PUBLIC_BASE, &app.base);
    let ics = app.http.get(&local).send().await.unwrap();
    assert_eq!(ics.status(), 200);
    assert!(ics.text().await.unwrap().contains("DTSTART:20261124T070000Z"));

    let appointments = app.store.appointments(app.clinic.clinic.id).await.unwrap();
    assert_eq!(appointments.len(), 1);
    let a = &appointments[0];
    assert_eq!(a.status, AppointmentStatus::Booked);
    assert_eq!(a.starts_at, "2026-11-24T07:00:00Z".parse::<chrono::DateTime<chrono::Utc>>().unwrap(), "08:00 in Kinshasa is 07:00 UTC");
    assert_eq!(a.ends_at - a.starts_at, chrono::Duration::minutes(30));

    // Everything went out through Twilio's API, from the clinic's number, with its credentials.
    let sent = app.twilio.received.lock().unwrap().clone();
    assert_eq!(sent.len(), 5);
    for m in &sent {
        assert_eq!(m.account, DEMO_ACCOUNT);
        assert_eq!(m.field("From"), "whatsapp:+14155238886");
        assert_eq!(m.field("To"), format!("whatsapp:{PATIENT}"));
        assert!(m.authorization.starts_with("Basic "));
    }
    let patients = app.store.patients_for_phone(app.clinic.clinic.id, &nuru::domain::PhoneNumber::parse(PATIENT).unwrap()).await.unwrap();
    assert_eq!(patients.len(), 1);
    assert_eq!(patients[0].birth_date, Some(chrono::NaiveDate::from_ymd_opt(1990, 5, 15).unwrap()));

    // Writing again, the patient is known and sees the booking.
    let r = app.say(PATIENT, "mes rdv ?").await;
    assert!(r[0].contains("mardi 24 novembre à 08:00") && r[0].contains("Awa Mendy"), "{}", r[0]);
}

#[tokio::test]
async fn everything_in_one_message_books_in_two_turns_for_a_known_patient() {
    let app = spawn_app().await;
    // First booking creates the patient.
    app.say(PATIENT, "rdv demain 9h pour une vaccination").await;
    app.say(PATIENT, "Awa Mendy").await;
    app.say(PATIENT, "15/05/1990").await;
    app.say(PATIENT, "1").await;
    assert_eq!(app.store.appointments(app.clinic.clinic.id).await.unwrap().len(), 1);

    let r = app.say(PATIENT, "I would like a consultation on Friday at 10am").await;
    assert!(r[0].contains("Reply 1 to confirm"), "straight to confirmation, in English: {}", r[0]);
    assert!(r[0].contains("Friday 27 November at 10:00"), "{}", r[0]);
    let r = app.say(PATIENT, "yes").await;
    assert!(r[0].starts_with("Booked"), "{}", r[0]);
    assert!(r[0].contains("Add it to your calendar: ") && r[0].contains(".ics?lang=en"), "{}", r[0]);
    assert_eq!(app.store.appointments(app.clinic.clinic.id).await.unwrap().len(), 2);
}

#[tokio::test]
async fn a_slot_taken_before_confirmation_is_not_double_booked() {
    let app = spawn_app().await;
    app.say(PATIENT, "rdv demain 10h consultation avec le Dr Kabeya").await;
    app.say(PATIENT, "Awa Mendy").await;
    let r = app.say(PATIENT, "15/05/1990").await;
    assert!(r[0].contains("10:00"), "{}", r[0]);

    // Someone else books the same slot from another phone meanwhile.
    let other = "+243990000002";
    app.say(other, "rdv demain 10h consultation avec le Dr Kabeya").await;
    app.say(other, "Paul Ekwalla").await;
    app.say(other, "01/01/1980").await;
    let r = app.say(other, "oui").await;
    assert!(r[0].contains("réservé"), "{}", r[0]);

    let r = app.say(PATIENT, "oui").await;
    assert!(r[0].contains("vient d'être pris"), "{}", r[0]);
    let appointments = app.store.appointments(app.clinic.clinic.id).await.unwrap();
    assert_eq!(appointments.len(), 1, "exactly one appointment for that slot");

    // The patient picks another slot and it is booked for them.
    app.say(PATIENT, "1").await;
    let r = app.say(PATIENT, "oui").await;
    assert!(r[0].contains("réservé"), "{}", r[0]);
    assert_eq!(app.store.appointments(app.clinic.clinic.id).await.unwrap().len(), 2);
}

#[tokio::test]
async fn emergencies_interrupt_and_flag_without_booking() {
    let app = spawn_app().await;
    app.say(PATIENT, "je voudrais un rdv demain").await;
    let r = app.say(PATIENT, "mon fils a avalé de l'eau de javel").await;
    assert!(r[0].contains("112"), "national number given: {}", r[0]);
    assert!(r[0].contains("+243810000000"), "clinic number given: {}", r[0]);
    assert!(app.store.appointments(app.clinic.clinic.id).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_handed_over_conversation_stays_silent() {
    let app = spawn_app().await;
    let r = app.say(PATIENT, "je veux parler à un humain").await;
    assert!(r[0].contains("membre de l'équipe"), "{}", r[0]);
    let r = app.say(PATIENT, "allo ?").await;
    assert!(r.is_empty(), "the bot stays silent: {r:?}");
}

#[tokio::test]
async fn sms_replies_have_no_emoji() {
    let app = spawn_app().await;
    let sid = app.next_sid();
    let fields =
        fields(&[("MessageSid", &sid), ("AccountSid", DEMO_ACCOUNT), ("From", PATIENT), ("To", "+15005550006"), ("Body", "bonjour")]);
    assert_eq!(app.post_signed(&fields).await.status(), 200);
    app.workers.run_until_idle().await.unwrap();
    let sent = app.twilio.received.lock().unwrap().clone();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].field("To"), PATIENT);
    assert_eq!(sent[0].field("From"), "+15005550006");
    assert!(!sent[0].field("Body").contains('👋'), "{}", sent[0].field("Body"));
}

/// A booking for "ma fille" records the relation on the phone's link (on
/// either backend), and the next "pour ma fille" finds her among the family.
#[tokio::test]
async fn a_relative_booked_as_such_is_found_again_by_relation() {
    let app = spawn_app().await;
    let clinic = app.clinic.clinic.id;
    let phone = nuru::domain::PhoneNumber::parse(PATIENT).unwrap();
    let mut tx = app.store.begin().await.unwrap();
    nuru::storage::Store::create_patient(&mut tx, clinic, "Awa", "Mendy", None, &phone, monday_morning()).await.unwrap();
    tx.commit().await.unwrap();

    app.say(PATIENT, "une vaccination pour ma fille samedi à 9h").await;
    app.say(PATIENT, "2").await;
    app.say(PATIENT, "Fatou Mendy, 03/04/2018").await;
    let r = app.say(PATIENT, "oui").await;
    assert!(r[0].contains("C'est réservé") && r[0].contains("Fatou Mendy"), "{}", r[0]);
    let family = app.store.patients_for_phone(clinic, &phone).await.unwrap();
    let fatou = family.iter().find(|p| p.first_name == "Fatou").unwrap();
    assert_eq!(fatou.relation, Some(nuru::domain::Relation::Daughter));
    assert_eq!(family.iter().find(|p| p.first_name == "Awa").unwrap().relation, None);

    let r = app.say(PATIENT, "consultation vendredi à 10h").await;
    assert!(r[0].contains("Fatou Mendy") && r[0].contains("Awa Mendy"), "{}", r[0]);
    let r = app.say(PATIENT, "c'est pour ma fille").await;
    assert!(r[0].contains("Fatou Mendy") && r[0].contains("Répondez 1"), "{}", r[0]);
}

/// A turn reads the occupancy of the days its searches need, not the whole
/// horizon; when the asked day turns out full, the next days are read and the
/// patient gets the same alternatives as with everything read.
#[tokio::test]
async fn a_search_widened_week_by_week_offers_the_first_free_days_after_three_full_weeks() {
    let app = spawn_app().await;
    let clinic = app.clinic.clinic.id;
    // Every practitioner away from now to Monday 14 December: the search
    // reads one week, then two, four, and finds the first free days there.
    let (from, to) = ("2026-11-23T00:00:00Z".parse().unwrap(), "2026-12-14T00:00:00Z".parse().unwrap());
    for p in &app.clinic.practitioners {
        let busy = vec![("away".to_string(), from, to)];
        app.store.replace_external_busy(clinic, p.id, "google", from..to, &busy, app.clock.now()).await.unwrap();
    }
    let r = app.say(PATIENT, "Bonjour, je voudrais une consultation").await.join("\n");
    assert!(r.contains("1. lundi 14 décembre à 08:00"), "the first free day after the busy weeks: {r}");
    assert!(!r.contains("novembre"), "nothing in the busy weeks: {r}");
}

#[tokio::test]
async fn a_full_day_offers_the_next_free_days_as_if_everything_were_read() {
    let app = spawn_app().await;
    let clinic = app.clinic.clinic.id;
    // Tuesday 24 November taken in every practitioner's outside calendar.
    let (from, to) = ("2026-11-24T00:00:00Z".parse().unwrap(), "2026-11-25T00:00:00Z".parse().unwrap());
    for p in &app.clinic.practitioners {
        let busy = vec![("all-day".to_string(), from, to)];
        app.store.replace_external_busy(clinic, p.id, "google", from..to, &busy, app.clock.now()).await.unwrap();
    }
    let r = app.say(PATIENT, "Bonjour, je voudrais une consultation demain").await.join("\n");
    assert!(r.contains("plus de créneau libre le mardi 24 novembre"), "{r}");
    assert!(r.contains("1. mercredi 25 novembre à 08:00"), "the next free day is offered: {r}");
    assert!(!r.contains("2. mardi"), "{r}");
    // And a far day (next month) is searched and offered as asked.
    let r = app.say(PATIENT, "plutôt le 15 décembre").await.join("\n");
    assert!(r.contains("15 décembre") && r.contains("1."), "{r}");
}
