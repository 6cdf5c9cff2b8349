//! SMS segments: a message in the GSM 7-bit alphabet fits 160 characters in
//! one segment (153 per segment when split); one character outside it makes
//! the whole message UCS-2, 70 per segment (67 when split). Clinics pay per
//! segment, so messages Nuru starts on SMS are written in GSM 7-bit.

/// The GSM 03.38 basic alphabet (one septet each).
const BASIC: &str =
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
/// The extension table (an escape septet and one more each).
const EXTENDED: &str = "^{}\\[~]|€\u{c}";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Gsm7,
    Ucs2,
}

/// The encoding Twilio will use for `text`, and how many segments it costs.
pub fn segments(text: &str) -> (Encoding, usize) {
    let gsm: Option<usize> = text.chars().try_fold(0usize, |n, c| {
        if BASIC.contains(c) {
            Some(n + 1)
        } else if EXTENDED.contains(c) {
            Some(n + 2)
        } else {
            None
        }
    });
    match gsm {
        Some(septets) => (Encoding::Gsm7, if septets <= 160 { 1 } else { septets.div_ceil(153) }),
        None => {
            // UTF-16 code units: an emoji counts two.
            let units = text.encode_utf16().count();
            (Encoding::Ucs2, if units <= 70 { 1 } else { units.div_ceil(67) })
        }
    }
}

/// `text` in the GSM 7-bit alphabet: accented letters outside it lose their
/// accent (ê → e, ç → c, ô → o), typographic quotes and dashes become plain
/// ones, anything else without an equivalent becomes "?". French stays
/// readable and a reminder costs one or two segments instead of three or four.
pub fn to_gsm7(text: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if BASIC.contains(c) || EXTENDED.contains(c) {
            out.push(c);
            continue;
        }
        match c {
            '’' | '‘' | 'ʼ' | '`' => out.push('\''),
            '“' | '”' | '«' | '»' => out.push('"'),
            '–' | '—' => out.push('-'),
            '…' => out.push_str("..."),
            '\u{a0}' | '\u{202f}' => out.push(' '),
            'œ' => out.push_str("oe"),
            'Œ' => out.push_str("OE"),
            _ => {
                let base: String = c.nfd().filter(|d| !('\u{300}'..='\u{36f}').contains(d)).collect();
                if !base.is_empty() && base.chars().all(|b| BASIC.contains(b)) {
                    out.push_str(&base);
                } else if !c.is_control() {
                    out.push('?');
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn segments_follow_the_alphabet() {
        assert_eq!(segments("Rappel : rendez-vous mardi à 10:00"), (Encoding::Gsm7, 1));
        assert_eq!(segments(&"a".repeat(160)), (Encoding::Gsm7, 1));
        assert_eq!(segments(&"a".repeat(161)), (Encoding::Gsm7, 2));
        assert_eq!(segments(&"€".repeat(80)), (Encoding::Gsm7, 1));
        assert_eq!(segments("fête"), (Encoding::Ucs2, 1));
        assert_eq!(segments(&"ê".repeat(71)), (Encoding::Ucs2, 2));
        assert_eq!(segments("👍"), (Encoding::Ucs2, 1));
    }

    #[test]
    fn french_is_written_in_gsm7() {
        assert_eq!(to_gsm7("Répondez « 1 » — à bientôt, ça marche… cœur"), "Répondez \" 1 \" - à bientot, ca marche... coeur");
        assert_eq!(to_gsm7("Dr Kabeya’s"), "Dr Kabeya's");
        assert_eq!(to_gsm7("👍"), "?");
    }

    proptest! {
        #[test]
        fn gsm7_text_is_always_gsm7(text in "\\PC{0,200}") {
            prop_assert_eq!(segments(&to_gsm7(&text)).0, Encoding::Gsm7);
        }
    }
}
