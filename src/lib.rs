#![forbid(unsafe_code)]
pub mod config;
pub mod domain;
pub mod scheduling;
pub mod secrets;
pub mod storage;
pub mod telemetry;
pub mod understanding;
