//! The extraction prompt, trimmed to a token budget counted with tiktoken.

use crate::domain::ClinicCatalog;
use std::sync::LazyLock;
use tiktoken_rs::CoreBPE;

pub const SYSTEM_TEMPLATE: &str = include_str!("../../prompts/extract.system.md");

/// Loading an encoding takes a fraction of a second: once per process.
static BPE: LazyLock<CoreBPE> = LazyLock::new(|| tiktoken_rs::cl100k_base().expect("cl100k encoding is embedded"));

pub fn count_tokens(text: &str) -> usize {
    BPE.encode_with_special_tokens(text).len()
}

/// Hosted models never see phone numbers or e-mail addresses.
pub fn pseudonymise(text: &str) -> String {
    text.split_inclusive(char::is_whitespace)
        .map(|w| {
            let core = w.trim_end();
            let digits = core.chars().filter(char::is_ascii_digit).count();
            if core.contains('@') {
                format!("<email>{}", &w[core.len()..])
            } else if digits >= 8 {
                format!("<number>{}", &w[core.len()..])
            } else {
                w.to_string()
            }
        })
        .collect()
}

pub struct Prompt {
    pub system: String,
    pub user: String,
    pub tokens: usize,
}

/// The system prompt with the clinic's lists, and the message; lists are
/// shortened, then the message cut, until the whole fits `budget` tokens.
pub fn build(catalog: Option<&ClinicCatalog>, message: &str, budget: usize, hosted: bool) -> Prompt {
    let message = if hosted { pseudonymise(message) } else { message.to_string() };
    let practitioners: Vec<String> =
        catalog.map(|c| c.practitioners.iter().filter(|p| p.active).map(|p| p.last_name.clone()).collect()).unwrap_or_default();
    let services: Vec<String> = catalog.map(|c| c.services.iter().map(|s| s.name_fr.clone()).collect()).unwrap_or_default();
    let render = |p: usize, s: usize| {
        SYSTEM_TEMPLATE
            .replace("{practitioners}", &practitioners[..p.min(practitioners.len())].join(", "))
            .replace("{services}", &services[..s.min(services.len())].join(", "))
    };
    let (mut p, mut s) = (practitioners.len(), services.len());
    let mut system = render(p, s);
    let mut user = message.clone();
    let mut tokens = count_tokens(&system) + count_tokens(&user);
    while tokens > budget && (p > 0 || s > 0) {
        if s >= p && s > 0 {
            s -= 1;
        } else {
            p -= 1;
        }
        system = render(p, s);
        tokens = count_tokens(&system) + count_tokens(&user);
    }
    while tokens > budget && !user.is_empty() {
        let keep = user.chars().count() * 3 / 4;
        user = user.chars().take(keep).collect();
        tokens = count_tokens(&system) + count_tokens(&user);
    }
    Prompt { system, user, tokens }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clinic_file::{ClinicFile, DEMO_CLINIC};

    #[test]
    fn prompts_fit_the_budget_and_hide_identifiers_from_hosted_models() {
        let (catalog, _) = ClinicFile::parse(DEMO_CLINIC).unwrap().into_catalog().unwrap();
        let p = build(Some(&catalog), "rdv demain, mon numéro +243990000001, mail awa@x.org", 1000, true);
        assert!(p.tokens <= 1000 && p.tokens > 50, "{}", p.tokens);
        assert!(p.system.contains("Kabeya") && p.system.contains("échographie"));
        assert!(!p.user.contains("990000001") && !p.user.contains("awa@x.org"), "{}", p.user);
        let long = "bonjour ".repeat(2000);
        let p = build(Some(&catalog), &long, 300, false);
        assert!(p.tokens <= 300, "{}", p.tokens);
    }
}
