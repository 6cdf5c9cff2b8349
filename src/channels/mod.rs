//! Channels: the only modules that know wire formats. Twilio today (WhatsApp
//! and SMS); the Meta Cloud API later, as a sibling module.

pub mod outbound;
pub mod twilio;

pub use outbound::{SendError, Transport};
