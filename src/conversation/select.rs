//! Choosing one of the numbered options a turn offered (slots, appointments,
//! patients), the way people do: by number, by ordinal, or by describing it —
//! its day, time, period, practitioner, service or patient. Reads only the
//! typed extraction; the wording was understood by `understanding`.

use super::offers::in_preference;
use super::texts;
use super::turn::TurnContext;
use crate::domain::{Lang, PractitionerId, Relation, ServiceId};
use crate::scheduling::Slot;
use crate::understanding::Extraction;
use crate::understanding::normalize::fold;
use chrono::{DateTime, Timelike, Utc};

/// What may describe one option.
#[derive(Debug, Clone, Default)]
pub(super) struct Facts<'a> {
    pub start: Option<DateTime<Utc>>,
    pub practitioner: Option<PractitionerId>,
    pub service: Option<ServiceId>,
    pub patient_first_name: Option<&'a str>,
    /// For a patient: how they are related to the writer, if recorded.
    pub relation: Option<Relation>,
}

/// What describes an offered slot.
pub(super) fn slot_facts(slot: &Slot) -> Facts<'static> {
    Facts { start: Some(slot.start), practitioner: Some(slot.practitioner_id), ..Facts::default() }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Selection {
    /// One option (its index in the list).
    One(usize),
    /// Several options fit the description, but not all of them.
    Several(Vec<usize>),
    /// The message describes an option, and none fits.
    NoMatch,
    /// The message neither numbers nor describes an option, or a number out of
    /// range, or a description that fits every option.
    Nothing,
}

/// Which option `x` picks among `options`.
pub(super) fn select(x: &Extraction, options: &[Facts<'_>], ctx: &TurnContext<'_>) -> Selection {
    let e = &x.entities;
    if x.signals.last_option && !options.is_empty() {
        return Selection::One(options.len() - 1);
    }
    if let Some(n) = e.choice {
        return match (n as usize).checked_sub(1) {
            Some(i) if i < options.len() => Selection::One(i),
            _ => Selection::Nothing,
        };
    }
    let tz = ctx.catalog.clinic.timezone;
    // A name or a service written describes an option; which of the clinic's
    // it designates (possibly none) was resolved by understanding.
    let practitioners: Option<&[PractitionerId]> = e.practitioner.as_ref().map(|_| x.mentions.practitioners.as_slice());
    let services: Option<&[ServiceId]> = e.appointment_type.as_ref().map(|_| x.mentions.services.as_slice());
    // "pour ma fille" describes a patient only when the options are patients.
    let relation = x.signals.relation.filter(|_| options.iter().any(|f| f.patient_first_name.is_some()));
    let described = relation.is_some()
        || e.date.is_some()
        || e.time.is_some()
        || e.time_preference.is_some()
        || practitioners.is_some()
        || services.is_some()
        || e.first_name.is_some();
    if !described {
        return Selection::Nothing;
    }
    let fits = |f: &Facts<'_>| {
        let local = f.start.map(|s| s.with_timezone(&tz));
        e.date.is_none_or(|d| local.is_some_and(|l| l.date_naive() == d))
            && e.time.is_none_or(|t| local.is_some_and(|l| l.time() == t))
            && (e.time_preference.is_none() || local.is_some_and(|l| in_preference(e.time_preference, l.hour())))
            && practitioners.as_ref().is_none_or(|ids| f.practitioner.is_some_and(|p| ids.contains(&p)))
            && services.as_ref().is_none_or(|ids| f.service.is_some_and(|s| ids.contains(&s)))
            && e.first_name.as_ref().is_none_or(|n| f.patient_first_name.is_none_or(|p| fold(p) == fold(n)))
            && relation.is_none_or(|asked| f.relation.is_some_and(|r| r.answers(asked)))
    };
    let matching: Vec<usize> = options.iter().enumerate().filter(|(_, f)| fits(f)).map(|(i, _)| i).collect();
    match matching.as_slice() {
        [] => Selection::NoMatch,
        [one] => Selection::One(*one),
        all if all.len() == options.len() => Selection::Nothing,
        several => Selection::Several(several.to_vec()),
    }
}

/// The description a message gave ("samedi 28 novembre", "10:30", "Dr
/// Mendy"), in the conversation's language, to say that no option fits it.
pub(super) fn description(x: &Extraction, lang: Lang) -> String {
    let e = &x.entities;
    let mut parts: Vec<String> = Vec::new();
    if let Some(d) = e.date {
        parts.push(texts::day(lang, d));
    }
    if let Some(t) = e.time {
        parts.push(texts::time(t));
    }
    if let Some(p) = &e.practitioner {
        parts.push(format!("Dr {p}"));
    }
    if let Some(s) = &e.appointment_type {
        parts.push(s.clone());
    }
    if let Some(n) = &e.first_name {
        parts.push(n.clone());
    }
    parts.join(", ")
}

/// The patient a reply picks among those linked to the phone: by number, or
/// by a first name only one of them has.
pub(super) fn chosen_patient<'a>(
    x: &crate::understanding::Extraction,
    patients: &'a [crate::domain::Patient],
) -> Option<&'a crate::domain::Patient> {
    let by_number = x.entities.choice.and_then(|n| patients.get((n as usize).checked_sub(1)?));
    let by_name = x.name_reply.as_ref().and_then(|(first, _)| {
        let first = crate::understanding::normalize::fold(first);
        let mut hits = patients.iter().filter(|p| crate::understanding::normalize::fold(&p.first_name) == first);
        let one = hits.next();
        if hits.next().is_some() { None } else { one }
    });
    by_number.or(by_name)
}

/// The patients linked to the phone, numbered, under the message `header`.
pub(super) fn list_patients(
    out: &mut super::turn::Outcome,
    ctx: &super::turn::TurnContext<'_>,
    header: &str,
    patients: &[crate::domain::Patient],
) {
    let mut lines = vec![super::texts::texts().render(out.language, header, &[])];
    for (i, p) in patients.iter().enumerate() {
        lines.push(format!("{}. {} {}", i + 1, p.first_name, p.last_name));
    }
    out.effects.push(super::turn::Effect::Reply(super::texts::for_channel(&lines.join("\n"), ctx.channel)));
}
