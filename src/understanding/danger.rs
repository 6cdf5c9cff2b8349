//! Whether a message describes a danger **now**, read from its signs.
//!
//! The older rules in `intent` recognise emergencies mostly by their names
//! and a few pairs of words. This module adds what those rules could not
//! express, as one policy:
//!
//! 1. **Time.** The message is cut into clauses (punctuation, "mais", "but",
//!    "and now", "depuis", …). A clause told as history ("l'année dernière",
//!    "three years ago", "as a kid", "il y a deux ans") is not read for
//!    danger: it is the reason for a visit, not an alarm.
//! 2. **Negation.** A sign right after a negation ("pas de fièvre", "no
//!    vomiting", "sans douleur", "aucun saignement") does not count; signs
//!    that are themselves negative in form ("no pee since morning", "ne tète
//!    plus") are their own phrases.
//! 3. **Signs in combination.** A danger is a body and what is wrong with it
//!    (a newborn who is hot, floppy or not feeding; a head knock followed by
//!    vomiting or drowsiness; swelling of the face or throat after a sting,
//!    food or an injection; diarrhoea with sunken eyes or no urine; a
//!    pregnancy with a severe headache, flashes or swelling; …), not a word.
//! 4. **Reassurance.** A message that says the trouble is over or minor
//!    ("rien de grave", "il va bien", "c'était le stress", "it's over")
//!    raises no alarm from moderate signs, but a **red flag** told in the
//!    present (not breathing, not answering, fitting now, lips turning blue,
//!    bleeding that does not stop, wanting to die) always raises it: when in
//!    doubt about a present danger, the safe answer wins.

use super::normalize;
use super::phrases::{negated_before, unnegated};
use regex::Regex;
use std::sync::LazyLock;

/// The text of the message's clauses that are not told as history, as
/// padded folded words (shorthand written out), joined in order.
pub(super) fn present_text(folded: &str) -> String {
    let mut out = String::from(" ");
    for clause in clauses(folded) {
        let tokens = normalize::tokens(&clause);
        let p = normalize::expand_shorthand(&normalize::padded(&tokens));
        if !is_history(&p) {
            out.push_str(p.trim_start());
        }
    }
    out
}

/// Is there a danger now? `rules` are the older name-and-pair rules, run
/// on the present text only.
pub(super) fn is_present_danger(folded: &str, rules: impl Fn(&str) -> bool) -> bool {
    let present = present_text(folded);
    if present.trim().is_empty() {
        return false;
    }
    let whole = normalize::expand_shorthand(&normalize::padded(&normalize::tokens(folded)));
    let alarm = rules(&present) || signs(&present);
    if !alarm {
        return false;
    }
    !reassured(&whole) || red_flag(&present)
}

static CLAUSE_BREAK: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"[,.;:!?\n()]+|\s(?:mais|but|however|cependant|pourtant|et la|et maintenant|and now|now|maintenant|depuis que|aujourd'hui|today|ce matin|this morning|ce soir|tonight)\s",
    )
    .unwrap()
});

/// Cuts at punctuation and at words that start a new time frame; the words
/// themselves stay with the clause they open.
fn clauses(folded: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut start = 0;
    for m in CLAUSE_BREAK.find_iter(folded) {
        out.push(folded[start..m.start()].to_string());
        let word = m.as_str();
        start = if word.trim().chars().next().is_some_and(char::is_alphabetic) { m.start() } else { m.end() };
    }
    out.push(folded[start..].to_string());
    out.retain(|c| !c.trim().is_empty());
    out
}

/// History told in a clause, as patterns over padded words (each alternative
/// starts and ends on a word boundary: a space).
const HISTORY_PATTERNS: &[&str] = &[
    r" il y a (?:\d+|un|une|deux|trois|quatre|cinq|dix|quelques|plusieurs) (?:ans?|annees?|mois|semaines) ",
    r" il y a longtemps ",
    r" (?:\d+|a|one|two|three|four|five|ten|few|several|many) (?:years?|months?|weeks?) ago ",
    r" (?:years|months|long) ago ",
    r" l an (?:dernier|passe) ",
    r" l annee (?:derniere|passee) ",
    r" last (?:year|month|week|spring|summer) ",
    r" mois (?:dernier|passe) ",
    r" semaine (?:derniere|passee) ",
    r" au printemps ",
    r" in the spring ",
    r" (?:etant|quand (?:il|elle|j) etai[st]) (?:enfant|petite?|bebe) ",
    r" dans son enfance ",
    r" (?:faisait|avait) des crises ",
    r" plus depuis \d+ ",
    r" as a (?:kid|child|baby) ",
    r" when (?:he|she|i) was (?:a |one |two |three |\d|little |young |small )",
    r" (?:premiere|first|previous) (?:grossesse|pregnancy) ",
    r" en debut de grossesse ",
    r" early in (?:my|the) pregnancy ",
];

static HISTORY: LazyLock<Regex> = LazyLock::new(|| Regex::new(&HISTORY_PATTERNS.join("|")).unwrap());

fn is_history(p: &str) -> bool {
    HISTORY.is_match(p)
}

/// Is one of `stems` in `p` and not right after a negation?
/// Any of `stems` in `p`, not negated: one Aho-Corasick scan of the message
/// for the whole list, then the negation read at each hit.
fn has(p: &str, stems: &'static [&'static str]) -> bool {
    super::phrases::matcher(stems).find_overlapping_iter(p).any(|hit| !negated_before(p, hit.start()))
}

const NEWBORN: &[&str] = &[
    " nouveau ne",
    " nouveau nee",
    " nouveaux nes",
    " new born",
    " newborn",
    " nourrisson",
    " week old",
    " weeks old",
    " day old",
    " days old",
    " jours ",
    " semaines ",
    " one week",
    " 1 week",
    " 2 week",
    " 3 week",
];
const NEWBORN_SIGNS: &[&str] = &[
    " fievre",
    " fever",
    " chaud",
    " hot",
    " froid",
    " cold",
    " mou ",
    " molle",
    " floppy",
    " weak",
    " limp",
    " ne tete",
    " tete plus",
    " tete pas",
    " not feeding",
    " won t feed",
    " no dey suck",
    " no gree suck",
    " no suck",
    " ne boit",
    " gemi",
    " marbre",
    " blotchy",
    " ne pleure",
    " no dey cry",
    " jaune",
    " yellow",
];

const HEAD_KNOCK: &[&str] = &[
    " tombe",
    " tombee",
    " fell",
    " fall ",
    " chute",
    " coup a la tete",
    " coup sur la tete",
    " hit her head",
    " hit his head",
    " hit my head",
    " bumped",
    " cogne",
    " moto",
    " accident",
    " knock",
];
const HEAD_SIGNS: &[&str] = &[
    " vomi",
    " threw up",
    " throw up",
    " throwing up",
    " dormir",
    " sleepy",
    " somnol",
    " drowsy",
    " endormi",
    " confus",
    " souvient",
    " remember",
    " pupil",
    " pupille",
    " oreille",
    " ear ",
    " parle bizarre",
    " talk anyhow",
    " convuls",
    " ne reconnait",
    " reconnait plus",
];

const EXPOSURE: &[&str] = &[
    " piqure",
    " injection",
    " sting",
    " stung",
    " arachide",
    " cacahuete",
    " groundnut",
    " peanut",
    " shrimp",
    " crevette",
    " medicament",
    " medicine",
    " comprime",
    " chop ",
    " ate ",
    " mange",
    " abeille",
    " bee ",
    " guepe",
    " wasp",
    " vaccin",
];
const AIRWAY_SWELLING: &[&str] = &[
    " visage a gonfle",
    " visage gonfle",
    " face is swelling",
    " face swell",
    " face don swell",
    " face swelling",
    " levres gonfl",
    " lips swell",
    " lips are swelling",
    " langue gonfl",
    " tongue swell",
    " throat",
    " gorge serre",
    " gorge gonfl",
    " eyelids",
    " paupieres",
    " hives",
    " urticaire",
    " swollen shut",
    " swelling up",
    " gonfle d un coup",
    " gonflent",
    " swell up",
];
const AIRWAY_SIGNS: &[&str] = &[
    " siffle",
    " wheez",
    " respire mal",
    " breathe",
    " breathing",
    " avaler",
    " swallow",
    " hoarse",
    " enroue",
    " dizzy",
    " vertige",
    " tight",
    " respir",
    " souffle",
];

const LOOSE: &[&str] = &[" diarrh", " vomi", " purge", " throwing up", " can t keep", " rien garder"];
const DRY: &[&str] = &[
    " yeux creus",
    " sunken",
    " fontanelle",
    " pas fait pipi",
    " no pee",
    " barely pee",
    " pas de pipi",
    " plus de pipi",
    " ne boit plus",
    " can t drink",
    " no fit drink",
    " rien garder",
    " keep anything down",
    " drowsy",
    " somnol",
    " ne tient plus debout",
    " limp",
    " mou ",
    " molle",
    " eye don enter",
    " bouche seche",
    " mouth is dry",
    " mouth dry",
    " no tears",
    " plus de larmes",
    " sans larmes",
];

/// Dehydration told in the patient's own sentence shape: no urine said with
/// any negation a few words before the word ("il ne fait plus pipi", "has not
/// peed since morning", "no urine"), eyes described as sunken ("ses yeux sont
/// creux", "his eyes look sunken").
static DRY_SHAPES: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r" (?:ne|n|pas|plus|no|not|hasn t|hasn|didn t|hardly|barely|never)(?: \w+){0,3} (?:pipi|pee|peed|peeing|urine|urin\w*)(?: |$)| (?:yeux|eyes)(?: \w+){0,3} (?:creux|creuses?|sunken|sunk) ",
    )
    .expect("the dehydration shapes compile")
});

const PREGNANT: &[&str] = &[
    " enceinte",
    " pregnant",
    " pregnancy",
    " grossesse",
    " get belle",
    " carry belle",
    " weeks pregnant",
    " accouche",
    " gave birth",
    " just delivered",
];
const ECLAMPSIA_SIGNS: &[&str] = &[
    " mal de tete",
    " headache",
    " head dey pain",
    " etoiles",
    " flashes",
    " flash",
    " blurry",
    " trouble",
    " vision",
    " vois flou",
    " pieds ont gonfle",
    " gonfl",
    " swell",
    " under my ribs",
    " sous les cotes",
    " barre",
    " crise",
    " raidi",
    " convuls",
    " fit ",
];
const BLEEDING: &[&str] = &[" saign", " sang", " bleed", " blood", " hemorrag"];

const POISON_VERBS: &[&str] =
    &[" bu ", " drank", " drink ", " got into", " avale", " swallow", " mange", " ate ", " chop ", " lick", " pris ", " took "];
const POISONS: &[&str] = &[
    " petrole",
    " kerosene",
    " bleach",
    " javel",
    " rat poison",
    " mort aux rats",
    " poison",
    " insecticide",
    " pesticide",
    " soude",
    " acide",
    " detergent",
    " essence",
    " fuel",
    " toute la boite",
    " all her pills",
    " all his pills",
    " all my pills",
    " tous ses comprimes",
];

const FEVER: &[&str] = &[" fievre", " fever", " temperature", " chaud", " hot "];
const MENINGES: &[&str] = &[
    " nuque raide",
    " stiff neck",
    " neck is stiff",
    " cou raide",
    " doesn t fade",
    " does not fade",
    " ne s efface pas",
    " ne disparait pas",
    " lumiere",
    " light ",
    " taches violettes",
    " purple spots",
];

/// Signs that together make a danger, whatever words name them.
fn signs(p: &str) -> bool {
    let both = |a: &'static [&'static str], b: &'static [&'static str]| has(p, a) && has(p, b);
    red_flag(p)
        || both(NEWBORN, NEWBORN_SIGNS) && !has(p, &[" ans ", " years old", " year old", " mois "])
        || both(HEAD_KNOCK, HEAD_SIGNS)
        || both(AIRWAY_SWELLING, AIRWAY_SIGNS)
        || both(EXPOSURE, AIRWAY_SWELLING)
        || has(p, LOOSE) && (has(p, DRY) || DRY_SHAPES.is_match(p))
        || has(p, &[" fontanelle creus", " fontanelle est creus", " sunken fontanel"])
        || both(PREGNANT, BLEEDING)
        || has(p, PREGNANT) && ECLAMPSIA_SIGNS.iter().filter(|s| unnegated(p, s)).count() >= 2
        || both(POISON_VERBS, POISONS)
        || both(FEVER, MENINGES)
        || has(
            p,
            &[
                " tousse du sang",
                " crache du sang",
                " coughing blood",
                " cough blood",
                " coughing up blood",
                " vomit du sang",
                " vomiting blood",
            ],
        )
        || both(&[" poitrine", " chest"], &[" pression", " pressure", " serre", " squeez", " ecras", " crush", " tight"])
        || both(
            &[" bras", " arm ", " arms "],
            &[" can t lift", " cannot lift", " ne bouge plus", " ne peut plus lever", " no dey move", " lourd", " numb", " engourd"],
        ) && has(p, &[" bouche", " mouth", " visage", " face", " parle", " speak", " talk", " words", " slur"])
        || has(p, &[" droop", " slurs", " slurring", " de travers", " one side of her body", " one side of his body", " un cote du corps"])
}

/// Signs of a danger now that no reassurance in the message outweighs.
fn red_flag(p: &str) -> bool {
    has(
        p,
        &[
            // Not answering, not waking.
            " ne repond plus",
            " ne repond pas",
            " repond plus",
            " ne nous entend",
            " ne m entend",
            " ne me reconnait",
            " ne reconnait plus",
            " won t wake",
            " will not wake",
            " can t wake",
            " not responding",
            " unresponsive",
            " perdu connaissance",
            " s est effondre",
            " collapsed",
            " inconscient",
            " unconscious",
            // Breathing that fails.
            " ne respire plus",
            " respire presque plus",
            " respire plus",
            " not breathing",
            " can t breathe",
            " cannot breathe",
            " no fit breathe",
            " struggling to breathe",
            " du mal a respirer",
            " mal a respirer",
            " levres sont bleues",
            " levres bleues",
            " lips are going blue",
            " lips blue",
            " lips are blue",
            " turning blue",
            " ribs are sucking",
            " can t finish a sentence",
            " n arrive plus a reprendre son souffle",
            " reprendre son souffle",
            " peut plus parler",
            // A fit now.
            " tremble de tout son corps",
            " tremble de partout",
            " shakes all over",
            " shaking all over",
            " jerking",
            " twitching",
            " dey shake",
            " se secouent",
            " yeux partent en arriere",
            " yeux se revulsent",
            " eyes rolling",
            " eyes roll",
            " serre les dents",
            " il bave",
            " elle bave",
            " foam",
            " is stiff",
            " est raide",
            " se raidi",
            " convulse",
            " en train de convulser",
            " having a seizure",
            " seizing",
            // Bleeding that does not stop.
            " spurting",
            " gicle",
            " can t stop it",
            " we can t stop",
            " sans arret",
            " won t stop",
            " ne s arrete pas",
            " soaking",
            " perds beaucoup de sang",
            " saigne beaucoup",
            " bleeding heavily",
            " plenty plenty",
            // Wanting to die.
            " veut mourir",
            " veux mourir",
            " want to die",
            " wants to die",
            " wan die",
            " me tuer",
            " se tuer",
            " kill myself",
            " kill himself",
            " kill herself",
            " end my life",
            " en finir",
            " want to live",
            " wanna live",
            " plus vivre",
            " envie de vivre",
            " no wan live",
            " me jeter",
            " me pendre",
            " jump off",
        ],
    )
}

const REASSURANCE: &[&str] = &[
    " rien de grave",
    " nothing serious",
    " pas grave",
    " no serious",
    " e no bad",
    " not serious",
    " va bien",
    " va tres bien",
    " va mieux",
    " ca va mieux",
    " is fine",
    " s fine",
    " fine now",
    " are fine",
    " playing normally",
    " dey play",
    " laughing",
    " il sourit",
    " elle sourit",
    " eating again",
    " mange bien",
    " boit bien",
    " it s over",
    " c est passe",
    " s est arrete",
    " stopped",
    " turned out",
    " c etait le ",
    " c etait un ",
    " c etait une ",
    " c etait du ",
    " c etait normal",
    " c etait rien",
    " feeling fine",
    " tout va bien",
    " everything dey fine",
    " everything is fine",
    " juste une egratignure",
    " just a scratch",
    " e no wound",
    " stable",
    " rien d autre",
    " nothing else",
    " petite brulure",
    " small burn",
    " small fire",
    " un petit bouton",
    " a little",
    " slight",
    " mild",
    " un peu ",
    " legerement",
    " minor",
    " swell small",
    " fall small",
    " muscle froisse",
    " pulled muscle",
    " reflux",
    " le stress",
    " stress",
];

fn reassured(p: &str) -> bool {
    REASSURANCE.iter().any(|s| p.contains(s))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn present(s: &str) -> String {
        present_text(&normalize::fold(s))
    }

    #[test]
    fn history_clauses_are_not_read_for_danger() {
        assert_eq!(present("il a fait une convulsion l'année dernière").trim(), "");
        assert!(present("AVC il y a 3 ans, et là il ne parle plus").contains(" ne parle plus "));
        assert!(present("my son is 3 years old and he is jerking").contains("jerking"), "an age is not history");
    }

    #[test]
    fn a_negated_sign_does_not_count() {
        assert!(!unnegated(" pas de fievre ", " fievre"));
        assert!(!unnegated(" no vomiting ", " vomi"));
        assert!(unnegated(" no pee since morning ", " no pee"));
        assert!(unnegated(" il vomit et pas de fievre ", " vomi"));
    }

    #[test]
    fn reassurance_does_not_outweigh_a_red_flag() {
        let rules = |_: &str| false;
        assert!(is_present_danger(&normalize::fold("il est tombé, rien de grave, mais là il ne répond plus"), rules));
        assert!(!is_present_danger(&normalize::fold("elle s'est cogné la tête, no vomiting, playing normally"), rules));
    }

    /// Written before the shapes, in the words of parents who do not know
    /// the term: loose stools or vomiting with no urine or sunken eyes is
    /// dehydration; the same with urine or eyes said to be normal is not.
    #[test]
    fn dehydration_is_recognised_from_how_parents_describe_it() {
        let rules = |_: &str| false;
        for alarm in [
            "mon fils a la diarrhée depuis 2 jours, il ne fait plus pipi et ses yeux sont creux",
            "elle vomit tout depuis hier et n'a pas fait de pipi depuis ce matin",
            "my baby has diarrhoea since yesterday and has not peed all day",
            "he keeps vomiting and his eyes look sunken",
            "pikin dey purge since morning, e no dey pee again",
        ] {
            assert!(is_present_danger(&normalize::fold(alarm), rules), "{alarm}");
        }
        for calm in [
            "il a eu la diarrhée hier mais il fait pipi normalement, il mange bien",
            "my son vomited once this morning, he is peeing fine and playing",
        ] {
            assert!(!is_present_danger(&normalize::fold(calm), rules), "{calm}");
        }
    }
}
