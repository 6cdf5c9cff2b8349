//! The JSON Schema every model answer must satisfy, loaded once.

use std::sync::LazyLock;

pub const SCHEMA_TEXT: &str = include_str!("../../prompts/extraction.schema.json");

pub static SCHEMA: LazyLock<serde_json::Value> =
    LazyLock::new(|| serde_json::from_str(SCHEMA_TEXT).expect("prompts/extraction.schema.json is JSON"));

/// The schema as sent to models: the same shape without annotations, lengths
/// and patterns, which grammar-constrained servers (llama.cpp) cannot all
/// compile. Answers are still validated against the full [`SCHEMA`].
pub static MODEL_SCHEMA: LazyLock<serde_json::Value> = LazyLock::new(|| {
    let mut s = SCHEMA.clone();
    if let Some(o) = s.as_object_mut() {
        for k in ["$schema", "$id", "title", "description"] {
            o.remove(k);
        }
    }
    if let Some(props) = s.get_mut("properties").and_then(|p| p.as_object_mut()) {
        for p in props.values_mut().filter_map(|p| p.as_object_mut()) {
            for k in ["description", "minLength", "maxLength", "pattern"] {
                p.remove(k);
            }
        }
    }
    s
});

static VALIDATOR: LazyLock<jsonschema::Validator> =
    LazyLock::new(|| jsonschema::draft202012::new(&SCHEMA).expect("prompts/extraction.schema.json is a valid draft 2020-12 schema"));

/// Parses and validates a model answer. The error lists what is wrong (for
/// the repair request), never the answer itself.
pub fn validate(answer: &str) -> Result<serde_json::Value, String> {
    let value: serde_json::Value = serde_json::from_str(answer.trim()).map_err(|e| format!("not JSON: {e}"))?;
    let errors: Vec<String> = VALIDATOR.iter_errors(&value).map(|e| format!("{} at {}", e, e.instance_path())).take(10).collect();
    if errors.is_empty() { Ok(value) } else { Err(errors.join("; ")) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schema_accepts_good_answers_and_names_what_is_wrong() {
        assert!(validate(r#"{"intent":"BOOK_APPOINTMENT","language":"fr","date_expression":"jeudi"}"#).is_ok());
        let e = validate(r#"{"intent":"BOOK","language":"fr"}"#).unwrap_err();
        assert!(e.contains("/intent"), "{e}");
        let e = validate(r#"{"intent":"UNKNOWN","language":"fr","date":"2026-01-01"}"#).unwrap_err();
        assert!(e.contains("date"), "{e}");
        assert!(validate(r#"{"intent":"UNKNOWN","language":"fr","choice":0}"#).is_err());
        assert!(validate("not json").unwrap_err().starts_with("not JSON"));
    }
}
