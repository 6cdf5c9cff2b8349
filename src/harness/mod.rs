//! The in-process harness: a conversation on a private in-memory database
//! through the webhook's path (`session`, used by `nuru chat` and the tests),
//! and whole conversations as data (`scripts`, run by the test suite and by
//! `nuru test-conversations`).

pub mod scripts;
pub mod session;
