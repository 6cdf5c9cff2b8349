//! How the classifier and the rules decide together, as one stated policy
//! (docs/understanding.md, "The learned classifier"):
//!
//! 1. **The rules keep what must be exact.** A whole-message choice, an
//!    emergency (the rules floor and the signs of `danger`), a request for a
//!    person, and yes / no (the confirmation gate reads words, never a
//!    statistical guess) are decided by the rules alone; the classifier
//!    never proposes an emergency, a yes or a no.
//! 2. **The classifier fills what the rules leave.** When the rules find no
//!    intent (`UNKNOWN`), the classifier's best intent is taken if its
//!    probability is at least [`FILL_QUESTION`] for a message that asks
//!    something, [`FILL_STATEMENT`] otherwise: a reply that only fills a slot
//!    or describes an option ("c'est pour Fatou", "celui avec le Dr Mendy")
//!    must stay `UNKNOWN` for the conversation to read it.
//! 3. **The classifier refines the rules' default.** `BOOK_APPOINTMENT` is
//!    what the rules say of any message about an appointment they cannot
//!    place better; the classifier turns it into a move, a cancellation, a
//!    listing or a question only if it is at least [`OVERRIDE`] sure and
//!    gives booking at most [`RULE_FLOOR`]. Every other intent the rules
//!    found (an explicit verb, a greeting, a question about the clinic)
//!    stands.

use super::Intent;
use super::classifier::{self, Model};

/// Least probability for the classifier to name the intent of a question
/// the rules did not place.
pub const FILL_QUESTION: f32 = 0.6;
/// Least probability for the classifier to name the intent of a statement
/// the rules did not place.
pub const FILL_STATEMENT: f32 = 0.8;
/// Least probability for the classifier to replace the rules' booking.
pub const OVERRIDE: f32 = 0.8;
/// Most probability the classifier may give booking when it replaces it.
pub const RULE_FLOOR: f32 = 0.1;

/// Intents only the rules decide.
fn rules_only(intent: Intent) -> bool {
    matches!(intent, Intent::Emergency | Intent::HumanHandoff | Intent::Affirmative | Intent::Negative)
}

/// Who decided the intent, and how sure they were.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Decision {
    Rules,
    Classifier(f32),
}

/// What the rest of the extractor knows about the message.
#[derive(Debug, Clone, Copy, Default)]
pub struct Shape {
    /// The whole message is a choice ("2", "la deuxième").
    pub choice: bool,
    /// The message asks something.
    pub question: bool,
}

/// The intent of a message from the rules' answer and the classifier.
pub fn combine(rule: Intent, shape: Shape, model: Option<&Model>, padded: &str) -> (Intent, Decision) {
    let Some(model) = model else { return (rule, Decision::Rules) };
    if shape.choice || rules_only(rule) || !(rule == Intent::BookAppointment || rule == Intent::Unknown) {
        return (rule, Decision::Rules);
    }
    let p = model.probabilities(padded);
    let (top, top_p) = Intent::ALL
        .iter()
        .filter(|&&i| !matches!(i, Intent::Emergency | Intent::Affirmative | Intent::Negative))
        .map(|&i| (i, classifier::probability_of(&p, i)))
        .fold((Intent::Unknown, f32::MIN), |a, b| if b.1 > a.1 { b } else { a });
    if top == rule {
        return (rule, Decision::Rules);
    }
    let take = if rule == Intent::Unknown {
        top_p >= if shape.question { FILL_QUESTION } else { FILL_STATEMENT }
    } else {
        top != Intent::Unknown
            && top != Intent::HumanHandoff
            && top != Intent::Greeting
            && top_p >= OVERRIDE
            && classifier::probability_of(&p, rule) <= RULE_FLOOR
    };
    if take { (top, Decision::Classifier(top_p)) } else { (rule, Decision::Rules) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn words() -> impl Strategy<Value = String> {
        let vocab = [
            "oui",
            "non",
            "annuler",
            "rdv",
            "urgent",
            "sang",
            "secrétaire",
            "ok",
            "cancel",
            "yes",
            "no",
            "demain",
            "abeg",
            "c'est",
            "pour",
            "Fatou",
            "?",
            "je",
            "veux",
            "mon",
            "the",
            "doctor",
            "help",
            "combien",
            "move",
            "appointment",
            "merci",
            "2",
        ];
        proptest::collection::vec(proptest::sample::select(vocab.to_vec()), 1..10).prop_map(|w| format!(" {} ", w.join(" ")))
    }

    proptest! {
        /// Whatever the text, the classifier never makes an emergency, a yes
        /// or a no, and never overturns a choice, an emergency, a handoff, a
        /// yes or a no the rules found.
        #[test]
        fn the_classifier_never_decides_what_only_the_rules_decide(
            padded in words(),
            rule in proptest::sample::select(Intent::ALL.to_vec()),
            choice: bool,
            question: bool,
        ) {
            let model = &*crate::understanding::SHIPPED_MODEL;
            let (intent, decision) = combine(rule, Shape { choice, question }, Some(model), &padded);
            if choice || rules_only(rule) {
                prop_assert_eq!((intent, decision), (rule, Decision::Rules));
            }
            if intent != rule {
                prop_assert!(!matches!(intent, Intent::Emergency | Intent::Affirmative | Intent::Negative), "{intent:?} from {rule:?}");
                prop_assert!(matches!(rule, Intent::BookAppointment | Intent::Unknown));
            }
        }
    }

    #[test]
    fn without_a_model_the_rules_decide() {
        assert_eq!(combine(Intent::Unknown, Shape::default(), None, " je veux annuler "), (Intent::Unknown, Decision::Rules));
    }
}
