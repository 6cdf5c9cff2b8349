//! What one turn works with and produces: the context the shell gathered
//! (`TurnContext`), the event (`Event`), and the outcome (`Outcome`: the next
//! state, the language and the `Effect`s the shell performs). Shared by the
//! transition function and the flows, which depend on it and not on `step`.

use super::state::{Conversation, Flow, PatientChoice};
use super::texts;
use crate::documents::Quote;
use crate::domain::{AppointmentId, AwaitedFeedback, Channel, ClinicCatalog, FeedbackAnswer, Lang, Occupancy, Patient, ServiceId};
use crate::scheduling::Slot;
use crate::scheduling::SlotEngine;
use crate::storage::UpcomingAppointment;
use crate::understanding::Extraction;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use std::cell::Cell;

/// What to search: the clinic's documents with this message's text
/// (`default()`), or one patient's file with the text of the message that
/// asked (`message`), once the conversation proved it speaks for them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DocumentQuery {
    /// The message whose text is the question; `None` for this one.
    pub message: Option<i64>,
    /// The patient whose file may be searched (proven by the conversation).
    pub patient: Option<crate::domain::PatientId>,
}

/// A file sent with this message, as the conversation sees it (never its
/// address or bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attachment {
    /// A PDF or a text.
    Document,
    /// A photo (of a paper, usually): stored for OCR.
    Photo,
    /// Anything else (audio, video, a contact card).
    Unsupported,
}

/// Adding the file of `message` to `patient`'s file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttachRequest {
    pub message: i64,
    pub patient: crate::domain::PatientId,
}

/// What became of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attached {
    Added {
        needs_ocr: bool,
    },
    /// Not fetched, refused (type, size) or not stored: the team takes over.
    Failed,
}

/// What the shell gathered before the turn.
#[derive(Debug, Clone, Copy)]
pub struct TurnContext<'a> {
    pub now: DateTime<Utc>,
    pub catalog: &'a ClinicCatalog,
    /// Time already taken from the clinic's practitioners over `occupancy_span`.
    /// Read it through [`TurnContext::engine`], which notes the span a search
    /// needs: a turn that searched outside what was read is decided again by
    /// the shell with that span read (most turns search a day or a week, many
    /// none at all).
    pub occupancy: &'a Occupancy,
    pub occupancy_span: (DateTime<Utc>, DateTime<Utc>),
    /// The span the turn's searches needed beyond `occupancy_span`, if any.
    pub occupancy_wanted: &'a Cell<Option<(DateTime<Utc>, DateTime<Utc>)>>,
    /// The inbound message this turn answers (its id).
    pub message: i64,
    /// What the documents say, once retrieved for a query. Read it through
    /// [`TurnContext::documents`] or [`TurnContext::documents_for`], which
    /// ask the shell to retrieve (and decide again) when it has not yet.
    pub documents: Option<(DocumentQuery, &'a [Quote])>,
    pub documents_wanted: &'a Cell<Option<DocumentQuery>>,
    /// Patients linked to the sender's phone number.
    pub patients: &'a [Patient],
    /// Their upcoming appointments.
    pub upcoming: &'a [UpcomingAppointment],
    pub channel: Channel,
    /// The file this message carries, if any.
    pub attachment: Option<Attachment>,
    /// A file added (or not) at the conversation's request. Read it through
    /// [`TurnContext::attached_for`], which asks the shell to add it (and
    /// decide again) the first time.
    pub attached: Option<(AttachRequest, Attached)>,
    pub attach_wanted: &'a Cell<Option<AttachRequest>>,
    /// The appointment of the reminder this message may answer ("1", "2",
    /// "3"), if it is still one of the sender's upcoming appointments.
    pub reminded: Option<AppointmentId>,
    /// The phone opted out of the messages the clinic starts on this channel.
    pub opted_out: bool,
    /// The feedback request this message may answer (a rating, a comment).
    pub feedback: Option<AwaitedFeedback>,
}

/// Nothing taken: for the engine's questions that are rules only (day status,
/// who works on a day, the last bookable day).
static NO_OCCUPANCY: Occupancy = Occupancy { booked: Vec::new(), external: Vec::new() };

/// Where a test's [`TurnContext`] notes what the step asked the shell for.
#[cfg(test)]
#[derive(Default)]
pub(crate) struct Asks {
    pub occupancy: Cell<Option<(DateTime<Utc>, DateTime<Utc>)>>,
    pub documents: Cell<Option<DocumentQuery>>,
    pub attach: Cell<Option<AttachRequest>>,
}

#[cfg(test)]
impl<'a> TurnContext<'a> {
    /// A context for tests of the pure step: the occupancy read over `span`,
    /// no documents retrieved, nobody known on the phone, WhatsApp, nothing
    /// pending. Tests change what they need with `..TurnContext::for_tests(…)`.
    pub(crate) fn for_tests(
        now: DateTime<Utc>,
        catalog: &'a ClinicCatalog,
        occupancy: &'a Occupancy,
        span: (DateTime<Utc>, DateTime<Utc>),
        asks: &'a Asks,
    ) -> Self {
        TurnContext {
            now,
            catalog,
            occupancy,
            occupancy_span: span,
            occupancy_wanted: &asks.occupancy,
            message: 1,
            documents: None,
            documents_wanted: &asks.documents,
            patients: &[],
            upcoming: &[],
            channel: Channel::WhatsApp,
            attachment: None,
            attached: None,
            attach_wanted: &asks.attach,
            reminded: None,
            opted_out: false,
            feedback: None,
        }
    }
}

impl<'a> TurnContext<'a> {
    /// The slot engine for searches between local days `from` and `to`
    /// (inclusive; `ignore` leaves out an appointment being moved). The
    /// span is noted when the occupancy read does not cover it.
    pub fn engine(&self, from: NaiveDate, to: NaiveDate, ignore: Option<AppointmentId>) -> SlotEngine<'a> {
        // Whole local days, with a day's margin for any zone offset and buffer.
        let lo = from.and_hms_opt(0, 0, 0).expect("midnight").and_utc() - Duration::days(1);
        let hi = to.and_hms_opt(0, 0, 0).expect("midnight").and_utc() + Duration::days(2);
        let (have_lo, have_hi) = self.occupancy_span;
        if lo < have_lo || hi > have_hi {
            let wanted = match self.occupancy_wanted.get() {
                Some((a, b)) => (a.min(lo), b.max(hi)),
                None => (lo, hi),
            };
            self.occupancy_wanted.set(Some(wanted));
        }
        SlotEngine::new(self.catalog, self.occupancy, self.now, ignore)
    }

    /// The passages retrieved for this message; `None` (and a request to the
    /// shell) before retrieval ran.
    pub fn documents(&self) -> Option<&'a [Quote]> {
        self.documents_for(DocumentQuery::default())
    }

    /// The passages retrieved for `query`; `None` (and a request to the
    /// shell) before that retrieval ran.
    pub fn documents_for(&self, query: DocumentQuery) -> Option<&'a [Quote]> {
        match self.documents {
            Some((have, found)) if have == query => Some(found),
            _ => {
                self.documents_wanted.set(Some(query));
                None
            }
        }
    }

    /// What became of adding a sent file; `None` (and a request to the
    /// shell) before it was tried.
    pub fn attached_for(&self, request: AttachRequest) -> Option<Attached> {
        match self.attached {
            Some((have, result)) if have == request => Some(result),
            _ => {
                self.attach_wanted.set(Some(request));
                None
            }
        }
    }

    /// The engine for questions about the rules only, which read no occupancy.
    pub fn rules(&self) -> SlotEngine<'a> {
        SlotEngine::new(self.catalog, &NO_OCCUPANCY, self.now, None)
    }
}

#[derive(Debug, Clone, Copy)]
pub enum Event<'a> {
    /// What the extractor understood of a patient message (the conversation
    /// never reads the text itself).
    Message {
        understood: &'a Extraction,
        /// The language the message is evidently written in, if any
        /// ("3" or "👍" carry none: the conversation keeps its language).
        language: Option<Lang>,
        /// The conversation was idle for longer than the configured time.
        idle_reset: bool,
    },
    /// The slot confirmed in this state was taken by someone else just now.
    SlotTaken,
}

#[derive(Debug, Clone, PartialEq)]
pub struct BookingRequest {
    pub slot: Slot,
    pub service: ServiceId,
    pub patient: PatientChoice,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    Reply(String),
    Book(BookingRequest),
    /// Cancel this appointment of the sender's (confirmed by the patient).
    Cancel(AppointmentId),
    /// Move this appointment of the sender's to the slot (confirmed by the patient).
    Move {
        appointment: AppointmentId,
        slot: Slot,
    },
    /// Staff should look at this conversation.
    NeedsHuman,
    /// A possible emergency: staff alerted.
    Urgent,
    /// The patient said they will come to this appointment of theirs.
    ConfirmAttendance(AppointmentId),
    /// What the patient did from a reminder of this appointment.
    ReminderAnswered {
        appointment: AppointmentId,
        reply: ReminderReply,
    },
    /// The phone opts out of (true) or back into (false) the messages the
    /// clinic starts on this channel.
    Consent {
        opted_out: bool,
    },
    /// The patient answered a feedback request (the message is kept as
    /// the comment when the answer says so; `None`: nothing to record yet);
    /// `keep_waiting`: their next message may still answer it.
    Feedback {
        request: i64,
        answer: Option<FeedbackAnswer>,
        keep_waiting: bool,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReminderReply {
    Confirmed,
    Cancelled,
    Moved,
}

impl ReminderReply {
    pub fn as_str(self) -> &'static str {
        match self {
            ReminderReply::Confirmed => "confirmed",
            ReminderReply::Cancelled => "cancelled",
            ReminderReply::Moved => "moved",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub state: Conversation,
    pub language: Lang,
    pub effects: Vec<Effect>,
}

impl Outcome {
    pub(super) fn say(&mut self, channel: Channel, key: &str, args: &[(&str, &str)]) {
        let text = texts::texts().render(self.language, key, args);
        self.effects.push(Effect::Reply(texts::for_channel(&text, channel)));
    }

    /// A turn the engine did not understand: the third in a row hands over.
    pub(super) fn misunderstood(&mut self, ctx: &TurnContext<'_>, key: &str, args: &[(&str, &str)]) {
        self.state.misunderstood = self.state.misunderstood.saturating_add(1);
        if self.state.misunderstood >= 3 {
            self.say(ctx.channel, "too_many_misunderstandings", &[]);
            self.hand_over();
        } else {
            self.say(ctx.channel, key, args);
        }
    }

    /// "ok merci", "je vais réfléchir" while options are open: nothing is
    /// booked, and the patient is told they can come back.
    pub(super) fn close_politely(&mut self, ctx: &TurnContext<'_>) {
        self.state = Conversation::default();
        self.say(ctx.channel, "closed_without_choice", &[]);
    }

    pub(super) fn hand_over(&mut self) {
        self.state.flow = Flow::HandedOff;
        self.state.misunderstood = 0;
        self.effects.push(Effect::NeedsHuman);
    }
}
