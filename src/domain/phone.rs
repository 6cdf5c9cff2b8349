use serde::{Deserialize, Serialize};
use std::fmt;

/// An E.164 phone number (`+` then 8 to 15 digits). `Debug` masks it so a
/// stray `{:?}` in a log line never prints a full number.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PhoneNumber(String);

impl PhoneNumber {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let s: String = raw.trim().chars().filter(|c| !matches!(c, ' ' | '-' | '.' | '(' | ')')).collect();
        let digits = s.strip_prefix('+').ok_or_else(|| "a phone number must start with +".to_string())?;
        if !(8..=15).contains(&digits.len()) || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err("a phone number must be + followed by 8 to 15 digits".into());
        }
        Ok(Self(s))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn masked(&self) -> String {
        mask_phone(&self.0)
    }
}

impl TryFrom<String> for PhoneNumber {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        Self::parse(&s)
    }
}

impl From<PhoneNumber> for String {
    fn from(p: PhoneNumber) -> String {
        p.0
    }
}

impl fmt::Debug for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PhoneNumber({})", self.masked())
    }
}

/// Masks a phone number for logs: `+243******123`.
pub fn mask_phone(raw: &str) -> String {
    let chars: Vec<char> = raw.chars().collect();
    if chars.len() <= 7 {
        return "*".repeat(chars.len());
    }
    let head: String = chars[..4].iter().collect();
    let tail: String = chars[chars.len() - 3..].iter().collect();
    format!("{head}{}{tail}", "*".repeat(chars.len() - 7))
}

/// The channel a conversation runs on. Replies leave through the channel the
/// patient wrote on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Channel {
    WhatsApp,
    Sms,
    /// The terminal (`nuru chat`): nothing leaves the process.
    Chat,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::WhatsApp => "whatsapp",
            Channel::Sms => "sms",
            Channel::Chat => "chat",
        }
    }

    pub fn parse(s: &str) -> Option<Channel> {
        match s {
            "whatsapp" => Some(Channel::WhatsApp),
            "sms" => Some(Channel::Sms),
            "chat" => Some(Channel::Chat),
            _ => None,
        }
    }

    /// Splits a Twilio address (`whatsapp:+243…` or `+243…`) into channel and number.
    pub fn from_twilio_address(addr: &str) -> Result<(Channel, PhoneNumber), String> {
        match addr.strip_prefix("whatsapp:") {
            Some(rest) => Ok((Channel::WhatsApp, PhoneNumber::parse(rest)?)),
            None => Ok((Channel::Sms, PhoneNumber::parse(addr)?)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_keep_country_code_and_last_three() {
        assert_eq!(mask_phone("+243811234567"), "+243******567");
        let p = PhoneNumber::parse("+243 81 123 4567").unwrap();
        assert_eq!(format!("{p:?}"), "PhoneNumber(+243******567)");
    }

    #[test]
    fn rejects_non_e164() {
        assert!(PhoneNumber::parse("0811234567").is_err());
        assert!(PhoneNumber::parse("+12ab").is_err());
    }

    #[test]
    fn twilio_addresses() {
        let (c, p) = Channel::from_twilio_address("whatsapp:+221771234567").unwrap();
        assert_eq!((c, p.as_str()), (Channel::WhatsApp, "+221771234567"));
        let (c, _) = Channel::from_twilio_address("+33612345678").unwrap();
        assert_eq!(c, Channel::Sms);
    }
}
