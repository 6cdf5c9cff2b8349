//! Twilio: inbound webhooks (signature-checked), outbound REST API.

pub mod client;
pub mod inbound;
pub mod keys;
pub mod media;
pub mod segments;
pub mod signature;
pub mod webhook;

pub use client::{Content, TwilioClient};
pub use signature::{VerifiedInbound, compute_signature};
