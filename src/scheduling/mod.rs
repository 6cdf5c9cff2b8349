//! Scheduling. `engine` is pure: rules, the time already taken and "now" in,
//! bookable slots out (no I/O, no clock). `book` is the thin I/O shell that
//! books, moves and cancels: it takes the practitioner's lock in the database,
//! re-reads the time taken and asks the same engine, so search and booking can
//! never disagree.

mod book;
mod engine;
mod local;

pub use book::{BookRequest, BookingError, MoveRequest, book, cancel, reschedule};
pub use engine::{Slot, SlotEngine, SlotQuery, Unavailable};
pub use local::{day_start, local_instant};
