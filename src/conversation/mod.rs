//! The conversation: a closed set of states and one pure transition function,
//! `step(state, event, context) -> outcome`. No I/O happens here; `shell`
//! loads the context, runs `step`, and performs the effects in one transaction.

mod booking;
mod changes;
mod replies;
pub mod shell;
mod state;
mod step;

pub use state::{Booking, Conversation, Flow, PatientChoice, Stage};
pub use step::{BookingRequest, Effect, Event, Outcome, TurnContext, step};
