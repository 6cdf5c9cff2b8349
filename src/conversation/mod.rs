//! The conversation: a closed set of states and one pure transition function,
//! `step(state, event, context) -> outcome`. No I/O happens here; `shell`
//! loads the context, runs `step`, and performs the effects in one transaction.

mod attach;
mod booking;
mod changes;
mod file;
mod gate;
mod offers;
mod replies;
mod select;
pub mod shell;
mod state;
mod step;
pub mod texts;
mod turn;

pub use state::{Booking, Conversation, Flow, PatientChoice, Stage};
pub use step::step;
pub use turn::{BookingRequest, Effect, Event, Outcome, TurnContext};

/// The state a conversation starts from (and returns to when staff release it).
pub fn fresh_state_json() -> String {
    serde_json::to_string(&Conversation::default()).expect("state serialises")
}

/// The state of a conversation staff have taken over (the bot stays silent).
pub fn handed_off_state_json() -> String {
    serde_json::to_string(&Conversation { flow: Flow::HandedOff, ..Conversation::default() }).expect("state serialises")
}
