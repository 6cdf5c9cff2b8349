//! Files patients send (a lab result as a PDF, a photo of a prescription):
//! added to a patient's file only after the patient says whose (a family
//! phone links several) and says yes. The conversation never sees the file:
//! the shell tells it what kind it is, fetches it from the clinic's Twilio
//! account when asked, and says whether it was added.

use super::state::{AttachFile, AttachStage, Flow};
use super::turn::{AttachRequest, Attached, Attachment, Effect, Outcome, TurnContext};
use crate::domain::Patient;
use crate::understanding::{Extraction, Intent};

pub(super) fn start(out: &mut Outcome, kind: Attachment, ctx: &TurnContext<'_>) {
    out.state.misunderstood = 0;
    out.state.flow = Flow::Idle;
    if kind == Attachment::Unsupported {
        return out.say(ctx.channel, "media_unsupported", &[]);
    }
    match ctx.patients {
        [] => {
            out.say(ctx.channel, "media_no_file", &[]);
            out.effects.push(Effect::NeedsHuman);
        }
        [p] => confirm(out, ctx, AttachFile { message: ctx.message, patient: Some(p.id), stage: AttachStage::Confirm }, p),
        many => {
            out.state.flow = Flow::Attach(AttachFile { message: ctx.message, patient: None, stage: AttachStage::ChoosePatient });
            super::select::list_patients(out, ctx, "media_which_patient", many);
        }
    }
}

fn confirm(out: &mut Outcome, ctx: &TurnContext<'_>, a: AttachFile, p: &Patient) {
    out.state.flow = Flow::Attach(a);
    out.say(ctx.channel, "media_confirm", &[("name", &format!("{} {}", p.first_name, p.last_name))]);
}

pub(super) fn on_message(out: &mut Outcome, a: AttachFile, x: &Extraction, ctx: &TurnContext<'_>) {
    match a.stage {
        AttachStage::ChoosePatient => match super::select::chosen_patient(x, ctx.patients) {
            Some(p) => confirm(out, ctx, AttachFile { patient: Some(p.id), stage: AttachStage::Confirm, ..a }, p),
            None if x.intent == Intent::Negative => {
                out.state.flow = Flow::Idle;
                out.say(ctx.channel, "media_not_added", &[]);
            }
            None => {
                out.misunderstood(ctx, "media_which_patient_again", &[]);
                if matches!(out.state.flow, Flow::Attach(_)) {
                    super::select::list_patients(out, ctx, "media_which_patient", ctx.patients);
                }
            }
        },
        AttachStage::Confirm => {
            // The patient must still be linked to this phone.
            let Some(p) = a.patient.and_then(|id| ctx.patients.iter().find(|p| p.id == id)) else {
                out.state.flow = Flow::Idle;
                out.say(ctx.channel, "media_no_file", &[]);
                return out.effects.push(Effect::NeedsHuman);
            };
            let answer = super::gate::answer(x, super::gate::Question::Attach);
            match x.intent {
                _ if answer == super::gate::Answer::Mixed => {
                    out.say(ctx.channel, "mixed_answer", &[]);
                    out.misunderstood(ctx, "media_confirm_again", &[("name", &format!("{} {}", p.first_name, p.last_name))]);
                }
                _ if answer == super::gate::Answer::No => {
                    out.state.flow = Flow::Idle;
                    out.say(ctx.channel, "media_not_added", &[]);
                }
                _ if answer == super::gate::Answer::Yes => match ctx.attached_for(AttachRequest { message: a.message, patient: p.id }) {
                    // The shell adds it, then this turn is decided again.
                    None => out.say(ctx.channel, "media_added", &[("name", &p.first_name)]),
                    Some(Attached::Added { needs_ocr }) => {
                        out.state.flow = Flow::Idle;
                        out.state.misunderstood = 0;
                        out.say(ctx.channel, if needs_ocr { "media_added_photo" } else { "media_added" }, &[("name", &p.first_name)]);
                    }
                    Some(Attached::Failed) => {
                        out.state.flow = Flow::Idle;
                        out.say(ctx.channel, "media_failed", &[]);
                        out.effects.push(Effect::NeedsHuman);
                    }
                },
                _ => out.misunderstood(ctx, "media_confirm_again", &[("name", &format!("{} {}", p.first_name, p.last_name))]),
            }
        }
    }
}
