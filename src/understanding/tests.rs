use super::*;
use chrono::NaiveDate;

/// Sunday 2026-11-22 09:15 local, like the conventions' examples.
fn now() -> NaiveDateTime {
    NaiveDate::from_ymd_opt(2026, 11, 22).unwrap().and_hms_opt(9, 15, 0).unwrap()
}

fn x(text: &str) -> Extraction {
    extract(text, now(), None)
}

fn d(s: &str) -> Option<NaiveDate> {
    Some(s.parse().unwrap())
}

fn t(s: &str) -> Option<NaiveTime> {
    Some(NaiveTime::parse_from_str(s, "%H:%M").unwrap())
}

#[test]
fn intents_follow_the_priority_examples() {
    let cases = [
        ("Bonjour, je voudrais un rdv", Intent::BookAppointment),
        ("non, je veux annuler", Intent::CancelAppointment),
        ("oui, 11h ça me va", Intent::Affirmative),
        ("Bonjour, je m'appelle Paul Ekwalla", Intent::Greeting),
        ("J'ai une douleur thoracique depuis ce matin, je voudrais un rdv", Intent::Emergency),
        ("je veux parler à un humain svp", Intent::HumanHandoff),
        ("il vous reste des créneaux jeudi ?", Intent::BookAppointment),
        ("anything free on Monday?", Intent::BookAppointment),
        ("je dois décaler mon rdv de mercredi à vendredi 9h", Intent::ModifyAppointment),
        ("I can't make it tomorrow", Intent::CancelAppointment),
        ("à quelle heure j'ai rdv ?", Intent::ListAppointments),
        ("vous avez un dermatologue ?", Intent::ListPractitioners),
        ("quels sont vos horaires ?", Intent::Information),
        ("3", Intent::Unknown),
        ("non, plutôt mardi", Intent::Negative),
        ("ok", Intent::Affirmative),
        ("oui merci", Intent::Affirmative),
        ("non merci", Intent::Negative),
        ("Mbote", Intent::Greeting),
        ("mon enfant a de la fièvre", Intent::Unknown),
        ("mon fils a avalé de l'eau de javel", Intent::Emergency),
        ("il a des convulsions avec une forte fièvre", Intent::Emergency),
        ("my wife is bleeding heavily", Intent::Emergency),
        ("rdv à 15h le 18 svp", Intent::BookAppointment),
        ("mes rdv ?", Intent::ListAppointments),
        ("quand est mon rdv ?", Intent::ListAppointments),
    ];
    for (text, intent) in cases {
        assert_eq!(x(text).intent, intent, "{text}");
    }
}

#[test]
fn dates_resolve_from_sunday_22_november() {
    let cases = [
        ("rdv demain", d("2026-11-23")),
        ("rdv lundi", d("2026-11-23")),
        ("rdv lundi prochain", d("2026-11-23")),
        ("rdv dimanche", d("2026-11-29")),
        ("après-demain svp", d("2026-11-24")),
        ("dans 3 jours", d("2026-11-25")),
        ("le 5 décembre", d("2026-12-05")),
        ("rdv le 15/01", d("2027-01-15")),
        ("rdv le 03/04", d("2027-04-03")),
        ("rdv le 5", d("2026-12-05")),
        ("rdv le 25", d("2026-11-25")),
        ("appointment on December 2nd", d("2026-12-02")),
        ("mardi 15/12 à 10h", d("2026-12-15")),
        ("rdv 2026-12-01", d("2026-12-01")),
        ("ouvert le samedi ?", None),
        ("rdv la semaine prochaine", None),
        ("non pas lundi, plutôt mardi", d("2026-11-24")),
        ("Monday doesn't work", None),
    ];
    for (text, date) in cases {
        assert_eq!(x(text).entities.date, date, "{text}");
    }
}

#[test]
fn times_and_preferences() {
    let e = x("demain matin à 9h").entities;
    assert_eq!((e.time, e.time_preference), (t("09:00"), Some(TimePreference::Morning)));
    let e = x("rdv à 2h de l'après-midi").entities;
    assert_eq!((e.time, e.time_preference), (t("14:00"), None));
    assert_eq!(x("vers 10h30").entities.time, t("10:30"));
    assert_eq!(x("at 3pm").entities.time, t("15:00"));
    assert_eq!(x("à midi").entities.time, t("12:00"));
    let e = x("ce soir vers 19h").entities;
    assert_eq!((e.date, e.time, e.time_preference), (d("2026-11-22"), t("19:00"), Some(TimePreference::Evening)));
    assert_eq!(x("Good morning, I need an appointment").entities.time_preference, None);
    assert_eq!(x("cet après-midi").entities.time_preference, Some(TimePreference::Afternoon));
}

#[test]
fn names_and_birth_dates() {
    let e = x("Je m'appelle Awa Mendy, née le 1/2/1990").entities;
    assert_eq!(
        (e.first_name.as_deref(), e.last_name.as_deref(), e.birth_date, e.date),
        (Some("Awa"), Some("Mendy"), d("1990-02-01"), None)
    );
    let e = x("c'est pour ma fille Aïcha Coulibaly").entities;
    assert_eq!((e.first_name.as_deref(), e.last_name.as_deref()), (Some("Aïcha"), Some("Coulibaly")));
    let e = x("MENDY Aminata").entities;
    assert_eq!((e.first_name.as_deref(), e.last_name.as_deref()), (Some("Aminata"), Some("MENDY")));
    let e = x("Nom: Kabila prénom: Joseph").entities;
    assert_eq!((e.first_name.as_deref(), e.last_name.as_deref()), (Some("Joseph"), Some("Kabila")));
    let e = x("rdv pour Mme Ngono").entities;
    assert_eq!((e.first_name.as_deref(), e.last_name.as_deref()), (None, Some("Ngono")));
    assert_eq!(x("DOB 12/07/1975").entities.birth_date, d("1975-07-12"));
    assert_eq!(x("born on June 7th, 1979").entities.birth_date, d("1979-06-07"));
    assert_eq!(x("né le 12/05/98").entities.birth_date, d("1998-05-12"));
    assert_eq!(x("né en 1980").entities.birth_date, None);
}

#[test]
fn practitioners_types_choices_email() {
    assert_eq!(x("rdv avec le Dr Kabeya").entities.practitioner.as_deref(), Some("Kabeya"));
    assert_eq!(x("Dr Aminata Mendy est là demain ?").entities.practitioner.as_deref(), Some("Aminata Mendy"));
    assert_eq!(x("je voudrais une échographie abdominale").entities.appointment_type.as_deref(), Some("échographie"));
    assert_eq!(x("I need a check-up").entities.appointment_type.as_deref(), Some("check-up"));
    assert_eq!(x("vous avez un pédiatre ?").entities.appointment_type.as_deref(), Some("pédiatrie"));
    assert_eq!(x("je veux consulter").entities.appointment_type, None);
    for (text, n) in [("3", 3), ("le 2", 2), ("option 1", 1), ("numéro 4", 4), ("number 1 please", 1), ("le premier", 1)] {
        let e = x(text);
        assert_eq!((e.entities.choice, e.entities.date, e.intent), (Some(n), None, Intent::Unknown), "{text}");
    }
    assert_eq!(x("mon mail: Awa.Mendy@Example.com").entities.email.as_deref(), Some("awa.mendy@example.com"));
}

#[test]
fn clinic_lexicon_matches_typos() {
    let lex = ClinicLexicon::new(&[("Jean".into(), "Mbuyi".into()), ("Aminata".into(), "Mendy".into())], &[]);
    for text in ["rdv avec Dr Mbuyi", "docteur mbuyi svp", "dr mbuy demain"] {
        assert_eq!(extract(text, now(), Some(&lex)).entities.practitioner.as_deref(), Some("Mbuyi"), "{text}");
    }
}

#[test]
fn language_detection() {
    assert_eq!(x("I want to book an appointment").language, Lang::En);
    assert_eq!(x("je veux un rdv").language, Lang::Fr);
    assert_eq!(x("3").language, Lang::Fr);
    assert_eq!(x("👍").language, Lang::Fr);
    assert_eq!(x("abeg I wan see doctor tomorrow").language, Lang::En);
}

#[test]
fn emergency_false_alarms() {
    for text in [
        "rdv à 15h",
        "appelez le 18 si besoin ?",
        "j'habite au 112 rue de la Paix",
        "mon fils a de la fièvre",
        "c'est urgent pour mon certificat",
        "pas de douleur thoracique, juste un contrôle",
    ] {
        assert_ne!(x(text).intent, Intent::Emergency, "{text}");
    }
}

mod properties {
    use super::*;
    use chrono::{Datelike, Duration, Weekday};
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn weekday_is_first_strictly_after_today(days in 0i64..4000, wd in 0u8..7) {
            let today = NaiveDate::from_ymd_opt(2024, 1, 1).unwrap() + Duration::days(days);
            let weekday = Weekday::try_from(wd).unwrap();
            let got = resolve_weekday(today, weekday);
            // Independent computation: walk forward day by day.
            let mut expected = today + Duration::days(1);
            while expected.weekday() != weekday { expected += Duration::days(1); }
            prop_assert_eq!(got, expected);
        }

        #[test]
        fn day_month_is_next_occurrence_on_or_after_today(days in 0i64..4000, day in 1u32..=31, month in 1u32..=12) {
            let today = NaiveDate::from_ymd_opt(2024, 1, 1).unwrap() + Duration::days(days);
            let got = resolve_day_month(today, day, month);
            let mut probe = today;
            let expected = loop {
                if probe.day() == day && probe.month() == month { break Some(probe); }
                if probe > today + Duration::days(366 * 9) { break None; }
                probe += Duration::days(1);
            };
            prop_assert_eq!(got, expected);
        }

        #[test]
        fn never_panics(s in "\\PC{0,120}") {
            let _ = extract(&s, now(), None);
        }
    }
}
