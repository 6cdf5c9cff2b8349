//! Scheduling: pure functions from rules, busy time and "now" to bookable
//! slots. No I/O: the caller gathers the inputs (one query for the busy time of
//! the whole search) and the database enforces the booking itself.

mod slots;

pub use slots::{Availability, Slot, SlotRequest, find_slots};
