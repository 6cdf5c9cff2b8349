//! Black-box tests: the application is spawned on port 0 with a fresh
//! database (SQLite by default, PostgreSQL when NURU_TEST_DATABASE_URL is set)
//! and a local server standing in for Twilio's REST API.

mod admin;
mod admin_records;
mod architecture;
mod helpers;
mod jobs;
mod model;

mod booking;
mod broadcasts;
mod calendar;
mod cli;
mod concurrency;
mod console;
mod conversations;
mod documents;
mod embeddings;
mod faults;
mod feedback;
mod google;
mod media;
mod nodes;
mod outbound;
mod qdrant;
mod reminders;
mod scheduling;
mod webhook;
