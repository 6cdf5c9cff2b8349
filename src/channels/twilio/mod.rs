//! Twilio: inbound webhooks (signature-checked), outbound REST API.

pub mod client;
pub mod keys;
pub mod media;
pub mod signature;
pub mod webhook;

pub use client::TwilioClient;
pub use signature::{VerifiedInbound, compute_signature};
