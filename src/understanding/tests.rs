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
        ("mon enfant a de la fièvre", Intent::BookAppointment),
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
        "il respire bien maintenant merci",
        "je n'arrive pas à dormir, rdv svp",
        "j'ai mal au coeur depuis ce matin",
        "il a bu de l'eau et ça va",
        "j'ai pris mes médicaments ce matin",
        "I took the pills as prescribed",
        "vous ne répondez pas au téléphone",
        "j'ai saigné un peu des gencives",
        "je suis enceinte, rdv pour l'écho",
        "my baby is not sleeping well",
        "la coupe de cheveux",
        "je suis tombée enceinte",
        "les résultats de ma prise de sang sont prêts ?",
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

        /// Whole messages through `extract`, on every day of ten years
        /// (month ends, year ends, leap days), against independent computations.
        #[test]
        fn relative_dates_in_messages(days in 0i64..3653, wd in 0u8..7, n in 1i64..30, english in any::<bool>()) {
            let today = NaiveDate::from_ymd_opt(2024, 1, 1).unwrap() + Duration::days(days);
            let at = today.and_hms_opt(9, 15, 0).unwrap();
            let weekday = Weekday::try_from(wd).unwrap();
            let (fr, en) = (["lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche"], ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]);
            let mut next = today + Duration::days(1);
            while next.weekday() != weekday { next += Duration::days(1); }
            let (weekday_msg, tomorrow_msg, in_n_msg) = if english {
                (format!("appointment on {}", en[wd as usize]), "appointment tomorrow".to_string(), format!("appointment in {n} days"))
            } else {
                (format!("rdv {}", fr[wd as usize]), "rdv demain".to_string(), format!("rdv dans {n} jours"))
            };
            prop_assert_eq!(extract(&weekday_msg, at, None).entities.date, Some(next));
            prop_assert_eq!(extract(&tomorrow_msg, at, None).entities.date, Some(today + Duration::days(1)));
            prop_assert_eq!(extract(&in_n_msg, at, None).entities.date, Some(today + Duration::days(n)));
        }

        /// "le 5/12" and "le N" against walking the calendar.
        #[test]
        fn explicit_days_in_messages(days in 0i64..3653, day in 1u32..=28, month in 1u32..=12) {
            let today = NaiveDate::from_ymd_opt(2024, 1, 1).unwrap() + Duration::days(days);
            let at = today.and_hms_opt(9, 15, 0).unwrap();
            let mut probe = today;
            while !(probe.day() == day && probe.month() == month) { probe += Duration::days(1); }
            prop_assert_eq!(extract(&format!("rdv le {day}/{month}"), at, None).entities.date, Some(probe));
            let mut alone = today;
            while alone.day() != day { alone += Duration::days(1); }
            prop_assert_eq!(extract(&format!("je voudrais un rdv le {day}"), at, None).entities.date, Some(alone));
        }

        /// Messages assembled from the words the rules look for, in any order:
        /// nothing panics and the output is always valid per the conventions.
        #[test]
        fn lexicon_soup_never_panics(words in proptest::collection::vec(prop::sample::select(vec![
            "rdv", "demain", "le", "5", "12/05", "10h", "à", "midi", "né", "nee", "Dr", "docteur", "MENDY", "Awa", "annuler", "déplacer",
            "urgence", "poitrine", "douleur", "pas", "non", "oui", "3pm", "le 31", "ddn", "/", "h", ":", "30", "2026", "@", "x@y.z",
            "Nom:", "Prénom:", "écho", "vaccin", "ce soir", "after", "tomorrow", "the", "2nd", "1er", "février", "29/02", "31/04", "",
        ]), 0..14)) {
            let text = words.join(" ");
            let x = extract(&text, now(), None);
            if let Some(t) = x.entities.time { prop_assert!(t.format("%H:%M").to_string().len() == 5); }
            if let Some(c) = x.entities.choice { prop_assert!((1..=20).contains(&c)); }
            prop_assert!(x.entities.email.as_deref().is_none_or(|e| e == e.to_lowercase()));
        }
    }
}

#[test]
fn sms_shorthand_never_raises_an_emergency_and_strokes_still_do() {
    for text in [
        "bjr je veux 1 rdv avc le dr kabeya demain",
        "rdv avc la sage femme jeudi",
        "slt 1 rdv avc moi et ma fille",
        "pb de dos, rdv avc docteur",
        "pas mal de fièvre, un rdv svp",
        "jvx passer avc mon fils demain",
    ] {
        assert_ne!(x(text).intent, Intent::Emergency, "{text}");
    }
    for text in [
        "il a fait un AVC",
        "AVC ce matin",
        "signes d'AVC, la bouche tordue",
        "mon père a fait un avc hier",
        "mon père, 70 ans, a fait un AVC, il faut un rdv ?",
        "il s'est noyé dans la rivière",
    ] {
        assert_eq!(x(text).intent, Intent::Emergency, "{text}");
    }
    // A stroke or a faint told as history with a request to be seen is the reason for the visit.
    for text in ["rdv pour maman, elle a eu un avc l'an dernier", "il a fait un malaise vagal la semaine dernière, je veux un rdv"] {
        assert_eq!(x(text).intent, Intent::BookAppointment, "{text}");
    }
}

#[test]
fn a_choice_is_a_number_among_filler_words_in_any_of_the_three_languages() {
    for (text, n) in [
        ("na the 3 o", 3),
        ("ok pour le 2", 2),
        ("2 stp", 2),
        ("take number four", 4),
        ("la deuxième", 2),
        ("je vais prendre la troisième alors", 3),
        ("abeg na number 2", 2),
        ("le 2", 2),
    ] {
        assert_eq!(x(text).entities.choice, Some(n), "{text}");
        assert_eq!(x(text).entities.date, None, "{text}");
    }
    for text in ["le 2 décembre", "1 rdv demain", "à 2h", "ok", "deux rendez-vous pour mes enfants", "the 10:30 one"] {
        assert_eq!(x(text).entities.choice, None, "{text}");
    }
}

proptest::proptest! {
    /// Any mix of filler words around one number selects that number, and one
    /// word that is not filler ("demain", "décembre", "rdv") makes it a message
    /// that says more than a choice.
    #[test]
    fn one_number_among_filler_is_a_choice(
        n in 1u32..=20,
        before in proptest::collection::vec(proptest::sample::select(vec!["ok", "na", "the", "pour", "le", "abeg", "take", "number", "je", "prends", "oui"]), 0..4),
        after in proptest::collection::vec(proptest::sample::select(vec!["o", "stp", "svp", "please", "merci", "alors", "one"]), 0..3),
        extra in proptest::sample::select(vec!["demain", "décembre", "rdv", "heures", "10h", "vendredi"]),
    ) {
        let text = format!("{} {n} {}", before.join(" "), after.join(" "));
        proptest::prop_assert_eq!(x(&text).entities.choice, Some(n));
        let longer = format!("{text} {extra}");
        proptest::prop_assert_eq!(x(&longer).entities.choice, None);
    }
}

#[test]
fn a_question_about_ones_own_file_is_told_from_a_question_about_the_clinic() {
    for own in [
        "mes résultats de la NFS sont arrivés ?",
        "my prescription please",
        "c'est quoi mon taux d'hémoglobine",
        "my lab results?",
        "mon ordonnance svp",
    ] {
        assert!(x(own).signals.asks.own_file, "{own}");
    }
    for clinic in [
        "les résultats de la NFS prennent combien de temps ?",
        "combien coûte la NFS ?",
        "do you do blood tests",
        "c'est combien la radio ?",
    ] {
        assert!(!x(clinic).signals.asks.own_file, "{clinic}");
    }
}

/// How patients correct a recap: a field word, a connective, the name.
/// Messages without a field word state no name.
#[test]
fn a_name_stated_with_its_field_word_is_read_as_that_field() {
    let stated = |t: &str| x(t).stated_name.map(|s| (s.first_name, s.last_name));
    let some = |s: &str| Some(s.to_string());
    assert_eq!(stated("sorry, my surname is Okoye"), Some((None, some("Okoye"))));
    assert_eq!(stated("le nom de famille c'est Kabeya"), Some((None, some("Kabeya"))));
    assert_eq!(stated("non, mon prénom c'est Aminata"), Some((some("Aminata"), None)));
    assert_eq!(stated("her last name is Obi"), Some((None, some("Obi"))));
    assert_eq!(stated("no, her name is Grace Obi"), Some((some("Grace"), some("Obi"))));
    assert_eq!(stated("mon nom est Diallo"), Some((None, some("Diallo"))));
    assert_eq!(stated("first name should be Mariama"), Some((some("Mariama"), None)));
    for none in ["oui c'est bon", "non merci", "yes", "je voudrais un rdv", "what is the name of the doctor?", "le nom du médecin ?"] {
        assert_eq!(stated(none), None, "{none}");
    }
}

/// A negated period asks for the other half of the day; a period said as
/// the preferred one wins over one said before it.
#[test]
fn a_rejected_period_is_a_wish_for_the_other_one() {
    use super::TimePreference::*;
    for (text, want) in [
        ("je voudrais une consultation jeudi mais pas le matin", Some(Afternoon)),
        ("not in the morning please", Some(Afternoon)),
        ("sauf l'après-midi", Some(Morning)),
        ("le matin je travaille, plutôt l'après-midi", Some(Afternoon)),
        ("demain matin", Some(Morning)),
        ("un rdv l'après-midi", Some(Afternoon)),
    ] {
        assert_eq!(x(text).entities.time_preference, want, "{text}");
    }
}

#[test]
fn any_practitioner_is_no_preference_not_a_question_about_who_works() {
    for text in ["je voudrais une consultation vendredi avec n'importe quel médecin", "book me with any doctor tomorrow"] {
        let got = x(text);
        assert_eq!((got.intent, got.entities.practitioner.as_deref()), (Intent::BookAppointment, None), "{text}");
    }
    assert_eq!(x("quel médecin consulte vendredi ?").intent, Intent::ListPractitioners);
    assert_eq!(x("can you push one of my appointments to next week?").intent, Intent::ModifyAppointment);
}
