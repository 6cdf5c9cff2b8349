//! Questions about a patient's own file ("mes résultats de la NFS sont
//! arrivés ?"): answered only from that patient's documents, and only after
//! the conversation proved whom it speaks for — which patient (a family
//! phone links several), then that patient's birth date. A linked phone is
//! not proof. Results are quoted, never interpreted; nothing found is said
//! as such, never filled from another file.

use super::state::{FileQuestion, FileStage, Flow};
use super::texts;
use super::turn::{DocumentQuery, Effect, Outcome, TurnContext};
use crate::documents::Quote;
use crate::domain::{Channel, Lang, Patient};
use crate::understanding::Extraction;

/// Wrong birth dates accepted before the bot stops asking.
const MAX_TRIES: u8 = 2;

pub(super) fn start(out: &mut Outcome, ctx: &TurnContext<'_>) {
    out.state.misunderstood = 0;
    match ctx.patients {
        [] => {
            out.say(ctx.channel, "file_no_patient", &[]);
            out.effects.push(Effect::NeedsHuman);
        }
        [p] => {
            ask_birth_date(out, ctx, FileQuestion { question: ctx.message, patient: Some(p.id), stage: FileStage::BirthDate, tries: 0 }, p)
        }
        many => {
            out.state.flow = Flow::File(FileQuestion { question: ctx.message, patient: None, stage: FileStage::ChoosePatient, tries: 0 });
            super::select::list_patients(out, ctx, "file_which_patient", many);
        }
    }
}

fn ask_birth_date(out: &mut Outcome, ctx: &TurnContext<'_>, f: FileQuestion, p: &Patient) {
    if p.birth_date.is_none() {
        out.state.flow = Flow::Idle;
        return out.say(ctx.channel, "file_cannot_verify", &[("name", &p.first_name)]);
    }
    out.state.flow = Flow::File(f);
    out.say(ctx.channel, "file_ask_birth_date", &[("name", &p.first_name)]);
}

pub(super) fn on_message(out: &mut Outcome, f: FileQuestion, x: &Extraction, ctx: &TurnContext<'_>) {
    match f.stage {
        FileStage::ChoosePatient => match super::select::chosen_patient(x, ctx.patients) {
            Some(p) => ask_birth_date(out, ctx, FileQuestion { patient: Some(p.id), stage: FileStage::BirthDate, ..f }, p),
            None => {
                out.misunderstood(ctx, "file_which_patient_again", &[]);
                if matches!(out.state.flow, Flow::File(_)) {
                    super::select::list_patients(out, ctx, "file_which_patient", ctx.patients);
                }
            }
        },
        FileStage::BirthDate => {
            // The patient must still be linked to this phone.
            let Some(p) = f.patient.and_then(|id| ctx.patients.iter().find(|p| p.id == id)) else {
                out.state.flow = Flow::Idle;
                out.say(ctx.channel, "file_no_patient", &[]);
                return out.effects.push(Effect::NeedsHuman);
            };
            let Some(given) = x.entities.birth_date.or(x.entities.date) else {
                return out.say(ctx.channel, "file_ask_birth_date", &[("name", &p.first_name)]);
            };
            if Some(given) != p.birth_date {
                let tries = f.tries + 1;
                if tries >= MAX_TRIES {
                    out.state.flow = Flow::Idle;
                    return out.say(ctx.channel, "file_not_verified", &[]);
                }
                out.state.flow = Flow::File(FileQuestion { tries, ..f });
                return out.say(ctx.channel, "file_birth_date_wrong", &[("name", &p.first_name)]);
            }
            // Proven: search this patient's documents with the question as asked.
            let Some(found) = ctx.documents_for(DocumentQuery { message: Some(f.question), patient: Some(p.id) }) else {
                return;
            };
            out.state.flow = Flow::Idle;
            out.state.misunderstood = 0;
            let own = p.id.to_string();
            match found.iter().find(|q| q.relevant && q.patient.as_deref() == Some(own.as_str())) {
                Some(q) => quote_own(out, ctx.channel, p, q),
                None => {
                    out.say(ctx.channel, "file_not_found", &[("name", &p.first_name)]);
                    out.effects.push(Effect::NeedsHuman);
                }
            }
        }
    }
}

fn quote_own(out: &mut Outcome, channel: Channel, p: &Patient, q: &Quote) {
    let t = texts::texts();
    let lang = out.language;
    let page = q.page.map(|n| t.render(lang, "info_document_page", &[("page", &n.to_string())])).unwrap_or_default();
    let mut text = t.render(lang, "file_from_document", &[("name", &p.first_name), ("title", &q.title), ("page", &page)]);
    text.push('\n');
    text.push_str(if channel == Channel::Sms { &q.short } else { &q.long });
    if let Some(doc_lang) = q.language
        && doc_lang != lang
    {
        text.push('\n');
        text.push_str(&t.render(lang, if doc_lang == Lang::Fr { "info_document_in_french" } else { "info_document_in_english" }, &[]));
    }
    text.push('\n');
    text.push_str(&t.render(lang, "file_discuss", &[]));
    out.effects.push(Effect::Reply(texts::for_channel(&text, channel)));
}
