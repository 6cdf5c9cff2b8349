//! Fields of an inbound message besides its text, read from the stored form
//! fields (a JSON object, as the webhook kept them).

/// The payload of a WhatsApp quick-reply button the patient tapped
/// (`ButtonPayload`: the id the template gave the button), if any.
pub fn button_payload(fields_json: &str) -> Option<String> {
    let serde_json::Value::Object(fields) = serde_json::from_str::<serde_json::Value>(fields_json).ok()? else { return None };
    fields.get("ButtonPayload").and_then(|v| v.as_str()).map(str::trim).filter(|v| !v.is_empty()).map(String::from)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_button_payload_is_read() {
        assert_eq!(
            super::button_payload(r#"{"Body":"Je confirme","ButtonPayload":"confirm","ButtonText":"Je confirme"}"#).as_deref(),
            Some("confirm")
        );
        assert_eq!(super::button_payload(r#"{"Body":"1"}"#), None);
        assert_eq!(super::button_payload(r#"{"ButtonPayload":"  "}"#), None);
        assert_eq!(super::button_payload("not json"), None);
    }
}
