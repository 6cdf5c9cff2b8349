//! What a message signals beyond its intent and entities, for the
//! conversation to decide from: it is about a relative, it asks to start
//! again, or it closes the exchange ("ok merci", "je vais réfléchir").

use super::phrases::any_phrase;
use crate::domain::Relation;
use aho_corasick::{AhoCorasick, MatchKind};
use std::sync::LazyLock;

/// Typed signals of one message (not part of the conventions' JSON).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Signals {
    /// "pour ma maman", "c'est pour mon fils", "for my wife", "my daughter
    /// Merveille needs…": the patient is someone else than the writer, and
    /// how they are related.
    pub relation: Option<Relation>,
    /// "menu", "recommencer", "start over": leave the current flow.
    pub restart: bool,
    /// "merci", "ok thanks", "bon je vais réfléchir", "I'll call back later":
    /// the patient closes the exchange without choosing.
    pub closing: bool,
    /// "le dernier", "the last one": the last of the options offered.
    pub last_option: bool,
    /// What an information question asks about (read only for `INFORMATION`).
    pub asks: super::questions::Asks,
    /// The message is a question ("…?", "est-ce que…", "is there…"): one the
    /// rules could not place may still be answered by the clinic's documents.
    pub question: bool,
    /// The whole message is one opt-out word (STOP, ARRÊT, UNSUBSCRIBE…) or
    /// opt-in word (START, UNSTOP, YES).
    pub consent: Option<ConsentWord>,
    /// "je serai là", "I'll be there", "je confirme": the writer says they
    /// will come (read as an answer to a reminder only).
    pub attending: bool,
    /// "4", "5/5", "⭐⭐⭐", "🙂", "très bien", "nul": a rating of a visit
    /// (read as one only when the conversation asked for it).
    pub rating: Option<super::Rating>,
    /// The message says yes somewhere ("oui", "ok", "yes o", "d'accord",
    /// "ça me va", 👍), whatever else it says.
    pub affirms: bool,
    /// The message carries a refusal, a keep, a wait or a change of mind
    /// anywhere ("non", "pas", "don't", "garder", "keep", "attendez",
    /// "later", "finalement", "actually", "mais"): it is never a yes to a
    /// write. Idioms that mean yes ("pas de souci", "no wahala", "pourquoi
    /// pas") do not count.
    pub contrary: bool,
}

/// A keyword about receiving the messages a clinic starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsentWord {
    OptOut,
    OptIn,
}

/// Single-word opt-out messages: the carriers' and Twilio's list, in French too.
const OPT_OUT_WORDS: &[&str] = &["stop", "stopall", "unsubscribe", "cancel", "end", "quit", "arret", "arreter", "desabonner"];

/// Single-word opt-in messages (they count only for a phone that opted out).
const OPT_IN_WORDS: &[&str] = &["start", "unstop", "yes"];

/// Saying one will come to an appointment.
const ATTENDING: &[&str] = &[
    " je serai la ",
    " je serais la ",
    " j y serai ",
    " je viendrai ",
    " je serai present ",
    " je serai presente ",
    " je confirme ",
    " confirme ",
    " present ",
    " presente ",
    " i ll be there ",
    " ill be there ",
    " i will be there ",
    " i will come ",
    " i ll come ",
    " i confirm ",
    " confirmed ",
    " confirm ",
    " i go come ",
    " i dey come ",
];

/// How questions start when their writer forgets the question mark.
const QUESTION_LEADS: &[&str] = &[
    " est ce que ",
    " est ce qu ",
    " y a t il ",
    " ya t il ",
    " comment ",
    " pourquoi ",
    " ou est ",
    " ou se ",
    " quel ",
    " quelle ",
    " quels ",
    " quelles ",
    " is there ",
    " are there ",
    " do you ",
    " can i ",
    " can we ",
    " how ",
    " where ",
    " what ",
    " which ",
    " why ",
];

/// Whether the message asks something: a question mark, or a question's
/// usual first words.
pub fn is_question(text: &str, padded: &str) -> bool {
    text.contains('?') || QUESTION_LEADS.iter().any(|lead| padded.starts_with(lead))
}

const RELATIVES: &[(&str, Relation)] = &[
    ("petit fils", Relation::Grandchild),
    ("petite fille", Relation::Grandchild),
    ("grand mere", Relation::Grandparent),
    ("grand pere", Relation::Grandparent),
    ("fille", Relation::Daughter),
    ("fils", Relation::Son),
    ("maman", Relation::Mother),
    ("mere", Relation::Mother),
    ("papa", Relation::Father),
    ("pere", Relation::Father),
    ("mari", Relation::Spouse),
    ("femme", Relation::Spouse),
    ("epouse", Relation::Spouse),
    ("epoux", Relation::Spouse),
    ("enfant", Relation::Child),
    ("enfants", Relation::Child),
    ("bebe", Relation::Child),
    ("bb", Relation::Child),
    ("frere", Relation::Sibling),
    ("soeur", Relation::Sibling),
    ("oncle", Relation::OtherFamily),
    ("tante", Relation::OtherFamily),
    ("neveu", Relation::OtherFamily),
    ("niece", Relation::OtherFamily),
    ("cousin", Relation::OtherFamily),
    ("cousine", Relation::OtherFamily),
    ("son", Relation::Son),
    ("daughter", Relation::Daughter),
    ("mother", Relation::Mother),
    ("mum", Relation::Mother),
    ("mom", Relation::Mother),
    ("father", Relation::Father),
    ("dad", Relation::Father),
    ("husband", Relation::Spouse),
    ("wife", Relation::Spouse),
    ("child", Relation::Child),
    ("children", Relation::Child),
    ("kid", Relation::Child),
    ("kids", Relation::Child),
    ("baby", Relation::Child),
    ("pikin", Relation::Child),
    ("grandmother", Relation::Grandparent),
    ("grandfather", Relation::Grandparent),
    ("grandma", Relation::Grandparent),
    ("grandpa", Relation::Grandparent),
    ("brother", Relation::Sibling),
    ("sister", Relation::Sibling),
    ("uncle", Relation::OtherFamily),
    ("aunt", Relation::OtherFamily),
    ("nephew", Relation::OtherFamily),
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
    Signals {
        relation: relation(padded),
        restart: RESTART.contains(&bare),
        closing: any_phrase(padded, CLOSING),
        last_option: super::intent::only_last_option(padded),
        asks: super::questions::Asks::default(),
        question: false,
        consent: if OPT_OUT_WORDS.contains(&bare) {
            Some(ConsentWord::OptOut)
        } else if OPT_IN_WORDS.contains(&bare) {
            Some(ConsentWord::OptIn)
        } else {
            None
        },
        attending: any_phrase(padded, ATTENDING),
        rating: None,
        affirms: affirms(padded),
        contrary: contrary(padded),
    }
}

/// Yes-idioms that contain a negation: removed before looking for one.
const YES_IDIOMS: &[&str] = &[
    " pas de souci ",
    " pas de soucis ",
    " pas de probleme ",
    " pas de pb ",
    " pas de prob ",
    " sans souci ",
    " sans probleme ",
    " pourquoi pas ",
    " aucun probleme ",
    " aucun souci ",
    " ne me derange pas ",
    " ne vous inquietez pas ",
    " t inquiete ",
    " tkt ",
    " n hesitez pas ",
    " pas mal ",
    " no problem ",
    " no prob ",
    " no wahala ",
    " no worries ",
    " no worry ",
    " why not ",
    " don t worry ",
    " dont worry ",
    " not a problem ",
];

/// Refusal, keep, wait and change-of-mind words and phrases (folded, padded),
/// in French, English, Pidgin and SMS spellings.
const CONTRARY: &[&str] = &[
    // refusal, negation
    " non ",
    " nan ",
    " nn ",
    " pas ",
    " pa ",
    " ne ",
    " n ",
    " jamais ",
    " aucun ",
    " aucune ",
    " no ",
    " nope ",
    " nah ",
    " not ",
    " don t ",
    " dont ",
    " do not ",
    " never ",
    " won t ",
    " can t ",
    " cannot ",
    " no be ",
    " i no ",
    " no do ",
    " no wan ",
    // keep, leave as it is
    " garde ",
    " garder ",
    " gardez ",
    " gardes ",
    " maintien",
    " maintenir ",
    " maintenez ",
    " laisse ",
    " laissez ",
    " laisser ",
    " keep ",
    " leave it ",
    " leave am ",
    " keep am ",
    " hold am ",
    " as it is ",
    // wait, later, think
    " attend",
    " patiente",
    " plus tard ",
    " reflechi",
    " reflechir ",
    " je vais voir ",
    " on verra ",
    " wait ",
    " hold on ",
    " later ",
    " not now ",
    " not yet ",
    " let me think ",
    " think about ",
    " i ll see ",
    " i will see ",
    " wait small ",
    " make you wait ",
    // change of mind, hedges
    " change d avis ",
    " changer d avis ",
    " change davis ",
    " changer davis ",
    " changed avis ",
    " finalement ",
    " finalment ",
    " en fait ",
    " plutot ",
    " mais ",
    " sauf ",
    " changed my mind ",
    " change my mind ",
    " actually ",
    " rather ",
    " instead ",
    " but ",
    " except ",
    " unless ",
];

fn contrary(padded: &str) -> bool {
    let mut p = padded.to_string();
    for idiom in YES_IDIOMS {
        while let Some(i) = p.find(idiom) {
            p.replace_range(i..i + idiom.len(), " ");
        }
    }
    any_phrase(&p, CONTRARY)
}

fn affirms(padded: &str) -> bool {
    use super::lexicon::{AFFIRMATIVE_PHRASES, AFFIRMATIVE_STARTS};
    AFFIRMATIVE_STARTS.iter().any(|s| padded.starts_with(s))
        || any_phrase(padded, AFFIRMATIVE_PHRASES)
        || any_phrase(padded, YES_IDIOMS)
        || padded.contains('👍')
}

/// Every "lead relative" phrase (" pour ma fille ", " my daughter "), matched
/// by one automaton: the longest phrase found first wins ("pour ma petite
/// fille" is a grandchild).
static RELATION_PHRASES: LazyLock<(AhoCorasick, Vec<Relation>)> = LazyLock::new(|| {
    let mut phrases = Vec::new();
    let mut relations = Vec::new();
    for lead in RELATIVE_LEADS {
        for (word, relation) in RELATIVES {
            phrases.push(format!(" {lead} {word} "));
            relations.push(*relation);
        }
    }
    let automaton =
        AhoCorasick::builder().match_kind(MatchKind::LeftmostLongest).build(&phrases).expect("relation phrases build an automaton");
    (automaton, relations)
});

/// A relative named after a possessive: "pour ma maman", "my daughter".
fn relation(padded: &str) -> Option<Relation> {
    let (automaton, relations) = &*RELATION_PHRASES;
    automaton.find(padded).map(|m| relations[m.pattern().as_usize()])
}
