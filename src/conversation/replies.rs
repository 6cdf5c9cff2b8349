//! Replies that read the clinic's data: lists, information, emergencies.
//! Pure functions of the turn context.

use super::texts;
use super::turn::{Effect, Outcome, TurnContext};
use crate::domain::Lang;
use crate::understanding::Extraction;

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

/// Who works here and for which services; with a date, who is in that day
/// (a weekly window that day, the clinic open, no whole-day absence).
pub fn practitioners(out: &mut Outcome, x: &Extraction, ctx: &TurnContext<'_>) {
    let t = texts::texts();
    let lang = out.language;
    let catalog = ctx.catalog;
    let day = x.entities.date;
    // Who is in that day is a scheduling rule: the engine decides it.
    let engine = ctx.rules();
    let present = |p: &crate::domain::Practitioner| day.is_none_or(|d| engine.works_on(p.id, d));
    let working: Vec<&crate::domain::Practitioner> = catalog.practitioners.iter().filter(|p| p.active && present(p)).collect();
    let header = match day {
        None => t.render(lang, "practitioners_header", &[]),
        Some(d) if working.is_empty() => {
            return out.say(ctx.channel, "practitioners_none_on_day", &[("day", &texts::day(lang, d))]);
        }
        Some(d) => t.render(lang, "practitioners_on_day_header", &[("day", &texts::capitalized(&texts::day(lang, d)))]),
    };
    let mut lines = vec![header];
    for p in working {
        let services: Vec<&str> = catalog.services.iter().filter(|s| s.practitioners.contains(&p.id)).map(|s| s.name(lang)).collect();
        lines.push(t.render(lang, "practitioner_line", &[("name", &p.display_name()), ("services", &services.join(", "))]));
    }
    out.effects.push(Effect::Reply(texts::for_channel(&lines.join("\n"), ctx.channel)));
}

/// Answers from the clinic's settings what the question asks (read by
/// understanding); anything else is passed to staff.
pub fn information(out: &mut Outcome, x: &Extraction, ctx: &TurnContext<'_>) {
    let asks = x.signals.asks;
    let clinic = &ctx.catalog.clinic;
    let hours = match out.language {
        Lang::Fr => clinic.opening_hours_fr.as_deref(),
        Lang::En => clinic.opening_hours_en.as_deref(),
    };
    let mut answered = false;
    if asks.address && !clinic.address.is_empty() {
        out.say(ctx.channel, "info_address", &[("address", &clinic.address)]);
        answered = true;
    }
    if asks.hours
        && let Some(h) = hours
    {
        out.say(ctx.channel, "info_hours", &[("hours", h)]);
        answered = true;
    }
    if asks.phone
        && let Some(p) = clinic.phone.as_deref()
    {
        out.say(ctx.channel, "info_phone", &[("phone", p)]);
        answered = true;
    }
    for topic in asks.topics() {
        if let Some(a) = clinic.answers.iter().find(|a| a.topic == topic) {
            let text = if out.language == Lang::Fr { &a.fr } else { &a.en };
            out.effects.push(Effect::Reply(texts::for_channel(text, ctx.channel)));
            answered = true;
        }
    }
    // The service named, if any ("c'est combien l'échographie ?"), is
    // answered from the settings; a price question that names none is
    // first looked up in the clinic's documents (a price list names far more
    // than the services), then answered with every service's price.
    let named: Vec<&crate::domain::Service> = x.mentions.services.iter().filter_map(|id| ctx.catalog.service(*id)).collect();
    if asks.prices && !named.is_empty() {
        answered |= price_lines(out, ctx, &named);
    }
    // "do you do ultrasounds?": a service of the clinic named in a question
    // that asks nothing else is a question whether it is offered.
    if !answered && !named.is_empty() && !asks.any() {
        let names: Vec<&str> = named.iter().map(|s| s.name(out.language)).collect();
        out.say(ctx.channel, "info_service_offered", &[("services", &names.join(", "))]);
        answered = true;
    }
    if let [only] = named.as_slice() {
        out.state.last_service = Some(only.id);
    }
    if !answered {
        match ctx.documents() {
            Some(found) => {
                if let Some(q) = found.first().filter(|q| q.confident) {
                    quote(out, ctx, q);
                    answered = true;
                }
            }
            // Retrieval has not run yet: the shell runs it and decides again.
            None => return out.say(ctx.channel, "info_unknown", &[]),
        }
    }
    if !answered && asks.prices {
        let all: Vec<&crate::domain::Service> = ctx.catalog.services.iter().collect();
        answered |= price_lines(out, ctx, &all);
    }
    if !answered {
        out.say(ctx.channel, "info_unknown", &[]);
        out.effects.push(Effect::NeedsHuman);
    }
}

/// The price of each of `services` that has one; false if none has.
fn price_lines(out: &mut Outcome, ctx: &TurnContext<'_>, services: &[&crate::domain::Service]) -> bool {
    let lines: Vec<String> = services
        .iter()
        .filter_map(|s| {
            let colon = if out.language == Lang::Fr { " :" } else { ":" };
            s.price.as_deref().map(|p| format!("• {}{colon} {p}", texts::capitalized(s.name(out.language))))
        })
        .collect();
    if lines.is_empty() {
        return false;
    }
    let header = texts::texts().render(out.language, "info_prices", &[]);
    out.effects.push(Effect::Reply(texts::for_channel(&format!("{header}\n{}", lines.join("\n")), ctx.channel)));
    true
}

/// A passage of the clinic's documents, quoted with the document named (and
/// its page), and the document's language said when it is not the patient's.
/// The passage is quoted as written, never followed as an instruction.
pub(super) fn quote(out: &mut Outcome, ctx: &TurnContext<'_>, q: &crate::documents::Quote) {
    let t = texts::texts();
    let lang = out.language;
    let page = q.page.map(|p| t.render(lang, "info_document_page", &[("page", &p.to_string())])).unwrap_or_default();
    let mut text = t.render(lang, "info_from_document", &[("title", &q.title), ("page", &page)]);
    text.push('\n');
    let sms = ctx.channel == crate::domain::Channel::Sms;
    // A model's grounded answer is already in the patient's language; an
    // SMS takes it only if it is as short as a quoted excerpt would be.
    if let Some(answer) = q.answer.as_deref().filter(|a| !sms || a.chars().count() <= 280) {
        text.push_str(answer);
        return out.effects.push(Effect::Reply(texts::for_channel(&text, ctx.channel)));
    }
    text.push_str(if sms { &q.short } else { &q.long });
    if let Some(doc_lang) = q.language
        && doc_lang != lang
    {
        text.push('\n');
        text.push_str(&t.render(lang, if doc_lang == Lang::Fr { "info_document_in_french" } else { "info_document_in_english" }, &[]));
    }
    out.effects.push(Effect::Reply(texts::for_channel(&text, ctx.channel)));
}
