//! Nuru: a clinic's WhatsApp and SMS secretary.
//!
//! The crate is organised by domain, not by layer; see `ARCHITECTURE.md` for the
//! code map and the invariants each module keeps.
#![forbid(unsafe_code)]

pub mod admin;
pub mod app_state;
pub mod calendar;
pub mod channels;
pub mod cli;
pub mod clinic_file;
pub mod clock;
pub mod config;
pub mod console;
pub mod conversation;
pub mod documents;
pub mod domain;
pub mod harness;
pub mod metrics;
pub mod model;
pub mod ocr;
pub mod outreach;
pub mod retrieval;
pub mod retry;
pub mod scheduling;
pub mod secrets;
pub mod startup;
pub mod storage;
pub mod telemetry;
pub mod understanding;
pub mod worker;

pub use startup::Application;

/// Installs the process-wide TLS crypto provider (ring). Every binary and test
/// that builds an HTTP client calls this once; later calls are no-ops.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
