//! `X-Twilio-Signature` verification. A `VerifiedInbound` can only be made
//! here, so a handler that holds one knows the request came from Twilio.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use hmac::{Hmac, Mac};
use sha1::Sha1;

type HmacSha1 = Hmac<Sha1>;

/// The fields of a request whose signature was valid. Every field received is
/// kept: Twilio adds fields without notice, and all of them are signed.
#[derive(Debug, Clone)]
pub struct VerifiedInbound {
    fields: Vec<(String, String)>,
}

impl VerifiedInbound {
    /// Checks `signature` over `url` and every field with the clinic's token.
    pub fn verify(url: &str, fields: Vec<(String, String)>, auth_token: &str, signature: &str) -> Option<Self> {
        let expected = B64.decode(signature.trim()).ok()?;
        // `verify_slice` compares in constant time.
        let ok = candidate_urls(url).iter().any(|u| mac_over(u, &fields, auth_token).verify_slice(&expected).is_ok());
        ok.then_some(Self { fields })
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    pub fn fields(&self) -> &[(String, String)] {
        &self.fields
    }
}

fn mac_over(url: &str, fields: &[(String, String)], auth_token: &str) -> HmacSha1 {
    let mut sorted: Vec<&(String, String)> = fields.iter().collect();
    sorted.sort();
    sorted.dedup();
    let mut mac = HmacSha1::new_from_slice(auth_token.as_bytes()).expect("HMAC takes any key length");
    mac.update(url.as_bytes());
    for (k, v) in sorted {
        mac.update(k.as_bytes());
        mac.update(v.as_bytes());
    }
    mac
}

/// The signature Twilio computes (used by tests and the benchmark to sign
/// requests the way Twilio does).
pub fn compute_signature(url: &str, fields: &[(String, String)], auth_token: &str) -> String {
    B64.encode(mac_over(url, fields, auth_token).finalize().into_bytes())
}

/// Twilio's helper accepts the URL with and without the default port.
fn candidate_urls(url: &str) -> Vec<String> {
    let mut out = vec![url.to_string()];
    let Ok(parsed) = reqwest::Url::parse(url) else { return out };
    let default_port = match parsed.scheme() {
        "https" => 443,
        "http" => 80,
        _ => return out,
    };
    let Some(host) = parsed.host_str() else { return out };
    // `Url` hides a default port, so look at the text itself.
    let scheme_host = format!("{}://{}", parsed.scheme(), host);
    let with_port = format!("{scheme_host}:{default_port}");
    if let Some(rest) = url.strip_prefix(&with_port) {
        out.push(format!("{scheme_host}{rest}"));
    } else if let Some(rest) = url.strip_prefix(&scheme_host).filter(|r| r.is_empty() || r.starts_with(['/', '?'])) {
        out.push(format!("{with_port}{rest}"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vector_fields() -> Vec<(String, String)> {
        [("CallSid", "CA1234567890ABCDE"), ("Caller", "+12349013030"), ("Digits", "1234"), ("From", "+12349013030"), ("To", "+18005551212")]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn twilio_documented_test_vector() {
        let url = "https://mycompany.com/myapp.php?foo=1&bar=2";
        assert_eq!(compute_signature(url, &vector_fields(), "12345"), "0/KCTR6DLpKmkAf8muzZqo1nDgQ=");
        assert!(VerifiedInbound::verify(url, vector_fields(), "12345", "0/KCTR6DLpKmkAf8muzZqo1nDgQ=").is_some());
    }

    #[test]
    fn default_port_variants_are_accepted() {
        let sig = "0/KCTR6DLpKmkAf8muzZqo1nDgQ=";
        assert!(VerifiedInbound::verify("https://mycompany.com:443/myapp.php?foo=1&bar=2", vector_fields(), "12345", sig).is_some());
        let with_port = compute_signature("https://mycompany.com:443/myapp.php?foo=1&bar=2", &vector_fields(), "12345");
        assert!(VerifiedInbound::verify("https://mycompany.com/myapp.php?foo=1&bar=2", vector_fields(), "12345", &with_port).is_some());
    }

    #[test]
    fn any_change_breaks_the_signature() {
        let url = "https://mycompany.com/myapp.php?foo=1&bar=2";
        let sig = "0/KCTR6DLpKmkAf8muzZqo1nDgQ=";
        let mut tampered = vector_fields();
        tampered[2].1 = "1235".into();
        assert!(VerifiedInbound::verify(url, tampered, "12345", sig).is_none());
        assert!(VerifiedInbound::verify(url, vector_fields(), "54321", sig).is_none());
        assert!(VerifiedInbound::verify("https://mycompany.com/myapp.php?foo=1", vector_fields(), "12345", sig).is_none());
        assert!(VerifiedInbound::verify(url, vector_fields(), "12345", "not base64!").is_none());
        let mut extra = vector_fields();
        extra.push(("NewField".into(), "x".into()));
        assert!(VerifiedInbound::verify(url, extra, "12345", sig).is_none());
    }

    #[test]
    fn repeated_fields_sort_by_value_and_exact_duplicates_count_once() {
        let url = "https://example.com/hook";
        let a = vec![("M".to_string(), "2".to_string()), ("M".to_string(), "1".to_string())];
        let b = vec![("M".to_string(), "1".to_string()), ("M".to_string(), "2".to_string()), ("M".to_string(), "2".to_string())];
        assert_eq!(compute_signature(url, &a, "t"), compute_signature(url, &b, "t"));
    }
}
