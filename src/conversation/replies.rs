//! Replies that read the clinic's data: lists, information, emergencies.
//! Pure functions of the turn context.

use super::step::{Effect, Outcome, TurnContext};
use crate::domain::Lang;
use crate::texts;
use crate::understanding::normalize::fold;

pub fn emergency(out: &mut Outcome, ctx: &TurnContext<'_>) {
    let clinic = &ctx.catalog.clinic;
    let phone_line =
        clinic.phone.as_deref().map(|p| texts::texts().render(out.language, "clinic_phone_line", &[("phone", p)])).unwrap_or_default();
    out.say(
        ctx.channel,
        "emergency",
        &[("emergency_number", &clinic.emergency_number), ("clinic_phone_line", &phone_line), ("clinic", &clinic.name)],
    );
}

pub fn list_appointments(out: &mut Outcome, ctx: &TurnContext<'_>) {
    if ctx.upcoming.is_empty() {
        out.say(ctx.channel, "list_none", &[]);
        return;
    }
    let t = texts::texts();
    let tz = ctx.catalog.clinic.timezone;
    let mut lines = vec![t.render(out.language, "list_header", &[])];
    for u in ctx.upcoming {
        let a = &u.appointment;
        let local = a.starts_at.with_timezone(&tz);
        let practitioner = ctx.catalog.practitioner(a.practitioner_id).map(|p| p.display_name()).unwrap_or_default();
        let service = ctx.catalog.service(a.service_id).map(|s| s.name(out.language).to_string()).unwrap_or_default();
        let patient = format!("{} {}", u.patient_first_name, u.patient_last_name);
        lines.push(t.render(
            out.language,
            "list_line",
            &[
                ("day", &texts::day(out.language, local.date_naive())),
                ("time", &texts::time(local.time())),
                ("service", &service),
                ("practitioner", &practitioner),
                ("patient", &patient),
            ],
        ));
    }
    out.effects.push(Effect::Reply(texts::for_channel(&lines.join("\n"), ctx.channel)));
}

pub fn practitioners(out: &mut Outcome, ctx: &TurnContext<'_>) {
    let t = texts::texts();
    let mut lines = vec![t.render(out.language, "practitioners_header", &[])];
    for p in ctx.catalog.practitioners.iter().filter(|p| p.active) {
        let services: Vec<&str> =
            ctx.catalog.services.iter().filter(|s| s.practitioners.contains(&p.id)).map(|s| s.name(out.language)).collect();
        lines.push(t.render(out.language, "practitioner_line", &[("name", &p.display_name()), ("services", &services.join(", "))]));
    }
    out.effects.push(Effect::Reply(texts::for_channel(&lines.join("\n"), ctx.channel)));
}

/// Answers from the clinic's settings; anything else is passed to staff.
pub fn information(out: &mut Outcome, text: &str, ctx: &TurnContext<'_>) {
    let f = format!(" {} ", fold(text).replace('\'', " "));
    let has = |words: &[&str]| words.iter().any(|w| f.contains(w));
    let clinic = &ctx.catalog.clinic;
    let hours = match out.language {
        Lang::Fr => clinic.opening_hours_fr.as_deref(),
        Lang::En => clinic.opening_hours_en.as_deref(),
    };
    let mut answered = false;
    if has(&[
        "adresse",
        "ou etes",
        "ou se trouve",
        "c est ou",
        " ou est",
        "situe",
        "address",
        "where",
        "located",
        "localisation",
        "comment venir",
        "get to",
    ]) && !clinic.address.is_empty()
    {
        out.say(ctx.channel, "info_address", &[("address", &clinic.address)]);
        answered = true;
    }
    if has(&["horaire", "heure", "ouvert", "ouverte", "ferme", "open", "close", "hours"])
        && let Some(h) = hours
    {
        out.say(ctx.channel, "info_hours", &[("hours", h)]);
        answered = true;
    }
    if has(&["numero", "telephone", "phone", "number", "appeler", "call", "joindre"])
        && let Some(p) = clinic.phone.as_deref()
    {
        out.say(ctx.channel, "info_phone", &[("phone", p)]);
        answered = true;
    }
    if !answered {
        out.say(ctx.channel, "info_unknown", &[]);
        out.effects.push(Effect::NeedsHuman);
    }
}
