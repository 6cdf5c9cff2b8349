//! The OpenAPI shapes of the domain values the admin API carries. The domain
//! types derive no wire-format documentation; these mirrors (same names, same
//! variants) describe them, and handler fields point at them with
//! `#[schema(value_type = …)]`. They are never constructed.

#![allow(dead_code)]

use serde::Deserialize;
use utoipa::ToSchema;

#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum ClinicRole {
    /// Their own agenda only.
    Practitioner,
    /// Conversations: read, reply, release; appointments.
    Staff,
    /// Everything about the clinic.
    ClinicAdmin,
}

#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum ModelPolicy {
    Any,
    LocalOnly,
    None,
}

/// What a patient may ask about that the clinic answers from its settings.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum InfoTopic {
    Payment,
    Documents,
    Fasting,
    Parking,
    Results,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClinicAnswer {
    pub topic: InfoTopic,
    pub fr: String,
    pub en: String,
}

/// In person at the clinic, or remote (phone or video).
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum ConsultationMode {
    InPerson,
    Remote,
}

#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum ExceptionKind {
    Leave,
    Training,
    Emergency,
    Busy,
}
