//! The confirmation gate: a write (book, move, cancel, add a document)
//! happens only on an unambiguous yes to the exact question asked. A
//! message carrying any refusal, keep, wait or change-of-mind signal is
//! never a yes; one that says yes and carries such a signal is asked again.

use crate::understanding::{Extraction, Intent};

/// How a message answers a yes/no question about a write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    Yes,
    No,
    /// Yes and something against it: asked again, nothing written.
    Mixed,
    /// Neither: something else (a question, a new time, a side request).
    Other,
}

/// What the question asks, so that a yes naming the action ("yes o, cancel
/// am") and a keep ("je viendrai" to a cancellation) read right.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Question {
    Book,
    Cancel,
    Move,
    Attach,
}

pub fn answer(x: &Extraction, question: Question) -> Answer {
    // Numbers answer only a question that offered them ("Répondez 1 pour
    // confirmer"); adding a file asks for a yes or a no.
    let choice = x.entities.choice.filter(|_| question != Question::Attach);
    let names_the_action = matches!(
        (question, x.intent),
        (Question::Cancel, Intent::CancelAppointment)
            | (Question::Move, Intent::ModifyAppointment)
            | (Question::Book, Intent::BookAppointment)
    );
    let yes = x.intent == Intent::Affirmative || choice == Some(1) || (x.signals.affirms && names_the_action);
    let refuses = x.intent == Intent::Negative || choice == Some(2);
    // To a cancellation, saying one will come, or keep, wait, or any other
    // signal against it, keeps the appointment: nothing is written either way.
    let keeps = question == Question::Cancel && (x.signals.attending || x.signals.contrary);
    match (yes, refuses || keeps, x.signals.contrary) {
        (true, false, false) => Answer::Yes,
        (true, _, _) => Answer::Mixed,
        (false, true, _) => Answer::No,
        // "je sais pas", "attends": not a yes, not a clear no either.
        (false, false, _) => Answer::Other,
    }
}
