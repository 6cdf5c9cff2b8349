//! What a message signals beyond its intent and entities, for the
//! conversation to decide from: it is about a relative, it asks to start
//! again, or it closes the exchange ("ok merci", "je vais réfléchir").

use super::intent::any_phrase;

/// Typed signals of one message (not part of the conventions' JSON).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Signals {
    /// "pour ma maman", "c'est pour mon fils", "for my wife", "my daughter
    /// Merveille needs…": the patient is someone else than the writer.
    pub relative: bool,
    /// "menu", "recommencer", "start over": leave the current flow.
    pub restart: bool,
    /// "merci", "ok thanks", "bon je vais réfléchir", "I'll call back later":
    /// the patient closes the exchange without choosing.
    pub closing: bool,
}

const RELATIVES: &[&str] = &[
    "fille",
    "fils",
    "maman",
    "mere",
    "papa",
    "pere",
    "mari",
    "femme",
    "epouse",
    "epoux",
    "enfant",
    "enfants",
    "bebe",
    "bb",
    "frere",
    "soeur",
    "grand mere",
    "grand pere",
    "oncle",
    "tante",
    "neveu",
    "niece",
    "cousin",
    "cousine",
    "petit fils",
    "petite fille",
    "son",
    "daughter",
    "mother",
    "mum",
    "mom",
    "father",
    "dad",
    "husband",
    "wife",
    "child",
    "children",
    "kid",
    "kids",
    "baby",
    "brother",
    "sister",
    "grandmother",
    "grandfather",
    "grandma",
    "grandpa",
    "uncle",
    "aunt",
    "nephew",
    "niece",
    "pikin",
    "pikin dem",
];

const RELATIVE_LEADS: &[&str] =
    &["pour ma", "pour mon", "pour mes", "for my", "c est ma", "c est mon", "ma", "mon", "my", "for our", "pour notre", "pour nos", "our"];

const RESTART: &[&str] = &[
    "menu",
    "recommencer",
    "recommence",
    "restart",
    "start over",
    "stop this",
    "annuler",
    "annule",
    "cancel",
    "stop",
    "retour",
    "back",
    "on recommence",
];

const CLOSING: &[&str] = &[
    " merci",
    " thanks",
    " thank you",
    " thank u",
    " thx",
    " reflechir",
    " reflechis",
    " je vais voir",
    " je verrai",
    " je reviendrai",
    " je vous recontacte",
    " je vous reecris",
    " plus tard",
    " think about it",
    " think am",
    " let me think",
    " later",
    " get back to you",
    " i ll see",
    " laisse tomber",
    " laissez tomber",
    " never mind",
    " nevermind",
    " forget it",
];

/// `padded` is the folded message with single spaces and a space at both ends.
pub fn read(padded: &str) -> Signals {
    let bare = padded.trim_matches(|c: char| !c.is_alphanumeric());
    Signals { relative: mentions_relative(padded), restart: RESTART.contains(&bare), closing: any_phrase(padded, CLOSING) }
}

/// A relative named after a possessive: "pour ma maman", "my daughter".
fn mentions_relative(padded: &str) -> bool {
    RELATIVE_LEADS.iter().any(|lead| RELATIVES.iter().any(|r| padded.contains(&format!(" {lead} {r} "))))
}
