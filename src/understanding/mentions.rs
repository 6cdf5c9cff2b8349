//! Which of the clinic's practitioners and services a message names: the
//! extracted names resolved to the clinic's ids, by one rule for every flow
//! (booking, choosing from a list, cancelling, prices).

use super::Entities;
use super::lexicon::ClinicLexicon;
use super::normalize::fold;
use crate::domain::{PractitionerId, ServiceId};

/// The clinic's practitioners and services the message names (empty when
/// the message names none, or no clinic lexicon was given).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Mentions {
    pub practitioners: Vec<PractitionerId>,
    pub services: Vec<ServiceId>,
}

/// Practitioners: the name written is their last name, their full name or
/// their first name, or part of how the clinic writes them. Services: the
/// term is a service's name in either language, or else part of one
/// ("échographie" names "échographie pelvienne").
pub fn resolve(entities: &Entities, lexicon: &ClinicLexicon) -> Mentions {
    let practitioners = entities
        .practitioner
        .as_deref()
        .map(|name| {
            let n = fold(name);
            lexicon
                .practitioner_ids
                .iter()
                .filter(|(_, first, last)| {
                    let (first, last) = (fold(first), fold(last));
                    last == n || first == n || format!("{first} {last}") == n || format!("{first} {last}").contains(&n)
                })
                .map(|(id, _, _)| *id)
                .collect()
        })
        .unwrap_or_default();
    let services = entities
        .appointment_type
        .as_deref()
        .map(|kind| {
            let k = fold(kind);
            let named = |exact: bool| -> Vec<ServiceId> {
                lexicon
                    .service_ids
                    .iter()
                    .filter(|(_, fr, en)| {
                        let (fr, en) = (fold(fr), fold(en));
                        if exact { fr == k || en == k } else { fr.contains(&k) || en.contains(&k) }
                    })
                    .map(|(id, _, _)| *id)
                    .collect()
            };
            let exact = named(true);
            if exact.is_empty() { named(false) } else { exact }
        })
        .unwrap_or_default();
    Mentions { practitioners, services }
}
