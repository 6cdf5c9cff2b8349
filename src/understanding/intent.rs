//! Intent rules, applied in the conventions' priority order:
//! EMERGENCY > HUMAN_HANDOFF > task intents > AFFIRMATIVE / NEGATIVE > GREETING > UNKNOWN.
//! Every lookup runs on the padded folded text (" mots separes par un espace ").

use super::Intent;
use super::lexicon::*;
use super::phrases::{any_phrase, matcher, unnegated};
use regex::Regex;
use std::sync::LazyLock;

pub fn classify(p: &str, folded: &str, is_choice: bool) -> Intent {
    if super::danger::is_present_danger(folded, is_emergency) {
        return Intent::Emergency;
    }
    if is_choice {
        return Intent::Unknown;
    }
    if is_handoff(p) {
        return Intent::HumanHandoff;
    }
    // "e do, book am", "oui réservez-le": a yes that tells us to go ahead
    // with what was offered, naming nothing new.
    if starts_with_any(p, AFFIRMATIVE_STARTS) && any_phrase(p, GO_AHEAD) && !has_slot_words(p) && !has_service_word(p) {
        return Intent::Affirmative;
    }
    if let Some(task) = task_intent(p) {
        return task;
    }
    // "Good morning" greets; it does not say yes.
    let good_greeting = any_phrase(p, &[" good morning", " good afternoon", " good evening", " good night", " good day"]);
    let p_yes = if good_greeting { p.replace(" good ", " ") } else { p.to_string() };
    let starts_yes = starts_with_any(&p_yes, AFFIRMATIVE_STARTS) || any_phrase(&p_yes, AFFIRMATIVE_PHRASES) || folded.contains('👍');
    // "no wahala", "pas de souci": a yes that starts with a no.
    let no_problem =
        any_phrase(p, &[" no wahala", " no problem", " no worries", " pas de probleme", " pas de souci", " pas de soucis", " pas de pb"]);
    let starts_yes = starts_yes || no_problem;
    let starts_no = !no_problem && (starts_with_any(p, NEGATIVE_STARTS) || any_phrase(p, NEGATIVE_PHRASES));
    if starts_no {
        return Intent::Negative;
    }
    if starts_yes {
        return Intent::Affirmative;
    }
    if any_phrase(p, GREETINGS) {
        return Intent::Greeting;
    }
    Intent::Unknown
}

fn starts_with_any(p: &str, phrases: &[&str]) -> bool {
    phrases.iter().any(|ph| p.starts_with(ph))
}

/// A past event told as history with a request to be seen ("un AVC l'an
/// dernier, je voudrais un rdv", "un malaise la semaine dernière"): a reason
/// for the visit, not an emergency now.
fn history_with_a_request(p: &str) -> bool {
    any_phrase(
        p,
        &[
            " semaine derniere",
            " last week",
            " mois dernier",
            " last month",
            " il y a quelques",
            " l annee derniere",
            " l an dernier",
            " last year",
            " years ago",
            " months ago",
            " il y a deux",
            " il y a trois",
        ],
    ) && mentions_appointment(p)
}

fn is_emergency(p: &str) -> bool {
    let hits = matcher(EMERGENCY_PHRASES);
    let history = history_with_a_request(p);
    if hits.find_overlapping_iter(p).any(|m| {
        let phrase = EMERGENCY_PHRASES[m.pattern().as_usize()];
        unnegated(p, phrase) && !(history && phrase == " avc ")
    }) {
        return true;
    }
    let swallowed = any_phrase(p, &[" avale ", " avalee ", " a bu ", " swallowed ", " drank ", " a mange "]);
    if swallowed && any_phrase(p, POISONS) {
        return true;
    }
    let pregnant = any_phrase(
        p,
        &[" enceinte ", " grossesse", " contractions ", " accouche", " travail ", " pregnant ", " pregnancy", " labour ", " labor "],
    );
    // "aucun saignement", "no bleeding": a negated sign is not a sign.
    let bleeding = [" saigne", " sang ", " bleed", " blood "].iter().any(|s| unnegated(p, s));
    if pregnant && bleeding {
        return true;
    }
    // Pain and chest in the same message ("une douleur très forte à la poitrine"), unless negated.
    let pain = [" douleur", " mal ", " pain", " hurts", " hurt "].iter().any(|w| unnegated(p, w));
    if pain && any_phrase(p, &[" poitrine", " thorax", " chest"]) {
        return true;
    }
    // Swallowed or took a dangerous product (not "a pris ses médicaments").
    if any_phrase(p, &[" a pris ", " took ", " ate ", " a bu ", " drank "]) && any_phrase(p, STRONG_POISONS) {
        return true;
    }
    // Burned with boiling water, hot oil or fire.
    if any_phrase(p, &[" brule", " burn"]) && any_phrase(p, &[" bouillant", " huile chaude", " boiling", " feu ", " fire ", " gaz "]) {
        return true;
    }
    // A fit: "il fait une crise, il bave et tremble".
    if any_phrase(p, &[" crise ", " fit "]) && any_phrase(p, &[" bave", " tremble", " yeux", " foam"]) {
        return true;
    }
    // Bleeding that is heavy or does not stop.
    if [" saign", " sang ", " bleed", " blood "].iter().any(|s| unnegated(p, s))
        && any_phrase(
            p,
            &[
                " s arrete pas",
                " s arrete plus",
                " arrete pas",
                " beaucoup",
                " abondam",
                " fort ",
                " won t stop",
                " wont stop",
                " a lot",
                " heavily",
                " non stop",
            ],
        )
    {
        return true;
    }
    // Collapse: a faint with the person down or not answering.
    if any_phrase(p, &[" malaise", " tombe ", " tombee ", " fell ", " collapse"])
        && any_phrase(
            p,
            &[
                " par terre",
                " ne repond pas",
                " ne repond plus",
                " repond plus",
                " respire",
                " not responding",
                " on the floor",
                " yeux fermes",
            ],
        )
    {
        return true;
    }
    // An overdose: a whole box, all the pills.
    if any_phrase(p, &[" pris ", " avale", " took ", " swallowed ", " taken "])
        && any_phrase(
            p,
            &[" toute la boite", " toute une boite", " boite entiere", " tous les", " plaquette", " all the", " whole", " entire "],
        )
    {
        return true;
    }
    if emergency_concepts(p) {
        return true;
    }
    let fever = any_phrase(p, &[" fievre ", " fever ", " temperature "]);
    fever && any_phrase(p, &[" convuls", " tremble fort", " fits ", " seizure"])
}

/// Emergencies described in other words: a body function plus what makes it
/// dangerous, each a list of stems. Recall matters more than elegance here.
fn emergency_concepts(p: &str) -> bool {
    let both = |a: &'static [&'static str], b: &'static [&'static str]| any_phrase(p, a) && any_phrase(p, b);
    // Bleeding, unless negated ("aucun saignement", "no bleeding").
    let bled = [" sang", " saign", " bleed", " blood"].iter().any(|s| unnegated(p, s));
    // Breathing that fails.
    both(
        &[" respir", " souffle", " breath", " air "],
        &[" plus ", " presque", " pas ", " mal a", " du mal", " difficil", " can t", " cannot", " cant ", " not ", " hard", " struggl", " bleu", " blue", " no fit", " no dey"],
    ) && !any_phrase(p, &[" respire bien", " breathing fine", " breathing well", " respire normalement"])
        || both(&[" levres", " lips", " visage", " face "], &[" bleu", " blue"])
        || any_phrase(p, &[" tout bleu", " toute bleue", " devenu bleu", " devenue bleue", " turned blue", " turning blue", " dey blue"])
        // The heart: pain with sweat, pallor or the arm.
        || both(&[" coeur", " heart"], &[" attack", " crise", " arret", " arrest"])
        || any_phrase(p, &[" mal au coeur", " douleur au coeur", " heart pain"])
            && any_phrase(p, &[" pale", " transpire", " sueur", " sweat", " bras", " arm ", " malaise"])
        // Blood everywhere, a deep cut, bleeding in pregnancy or labour.
        || bled && any_phrase(p, &[" partout", " everywhere", " flaque", " pool ", " badly", " severe", " grave"])
        || bled && any_phrase(p, &[" sans arret", " ne s arrete pas", " s arrete pas", " won t stop", " doesn t stop", " not stopping", " non stop", " no gree stop"])
        || both(&[" coupe", " cut "], &[" machette", " couteau", " profond", " deep", " badly", " artere"])
        || bled && any_phrase(p, &[" poche des eaux", " waters broke", " accouch", " delivery", " labour", " labor", " enceinte", " pregnan", " grossesse"])
        // Labour and obstetric signs.
        || both(&[" contraction"], &[" enceinte", " pregnan", " minutes", " min ", " regulier", " rapproch", " toutes les", " every "])
        || any_phrase(
            p,
            &[
                " perds les eaux", " perd les eaux", " perte des eaux", " perdu les eaux", " poche des eaux", " waters broke", " water broke",
                " water don break", " waters have broken", " waters are breaking", " le bebe arrive", " bebe sort", " baby is coming",
                " baby dey come", " dey labour", " dey labor", " labour pain", " labor pain", " she dey born", " wan born now", " en train d accoucher", " elle accouche", " va accoucher maintenant", " in labour", " in labor",
            ],
        )
        // Road accidents and falls with bleeding, head injury or a casualty who does not move.
        || both(
            &[" accident", " crash", " percute", " renverse", " knocked down", " hit by", " tombe", " fell ", " fall from", " chute"],
            &[" saign", " bleed", " blood", " sang ", " tete", " head", " inconscient", " unconscious", " ne bouge", " not moving", " bouge plus", " won t move"],
        )
        // Fainting, loss of consciousness (not one told as past history
        // with a request to be seen: "un malaise la semaine dernière, je veux un rdv").
        || any_phrase(
            p,
            &[
                " fait un malaise", " fait une malaise", " eu un malaise", " fainted", " fainting", " don faint", " evanoui", " perdu connaissance",
                " perd connaissance", " passed out", " pass out", " collapsed",
                " collapse",
                " don collapse", " s est effondre", " inconscient", " unconscious",
                " tombe dans les pommes",
            ],
        ) && !history_with_a_request(p)
        // Drowning.
        || any_phrase(p, &[" noye", " noyade", " drown", " drowned", " drowning"])
        // Not waking, limp, unconscious.
        || both(&[" reveill", " wake", " reagi", " respond"], &[" pas ", " plus ", " not ", " can t", " cannot", " won t", " no dey"])
            && !any_phrase(p, &[" reveillez moi", " wake me"])
        || any_phrase(p, &[" tout mou", " toute molle", " floppy", " limp "])
        // Fits, in French, English and Pidgin.
        || any_phrase(p, &[" convuls", " seizure", " epilep", " dey shake", " eye dey turn"])
        // Stroke signs: speech or the face or one side.
        || both(&[" du mal a parler", " ne parle plus", " parle mal", " can t speak", " cannot speak", " slurr", " no fit talk"], &[" bouche", " visage", " bras", " mouth", " face", " arm", " eye", " yeux", " travers", " tordu"])
        || any_phrase(p, &[" bouche de travers", " bouche est de travers", " mouth is crooked", " face is drooping"])
        // Suicide and self-harm.
        || any_phrase(
            p,
            &[" me jeter", " jeter du pont", " sauter du pont", " me pendre", " want to live", " wanna live", " plus vivre", " envie de vivre", " no wan live", " jump off"],
        )
        // Poison or too many pills.
        || both(
            &[" avale", " bu ", " bois ", " drank", " drunk", " swallow", " ate ", " mange", " pris ", " took", " taken"],
            &[" acide", " batterie", " petrol", " essence", " pesticide", " insecticide", " detergent", " javel", " bleach", " kerosene", " rat ", " produit menager", " trop de medicament", " too many pill", " sleeping pills", " somniferes"],
        )
        // Severe burns.
        || both(&[" brul", " burn"], &[" grave", " severe", " badly", " peau", " skin", " arrach", " feu", " fire", " huile", " acid", " explos", " visage", " face"])
}

/// Asking to talk to a member of staff: a talk verb and a person.
fn asks_for_a_person(p: &str) -> bool {
    any_phrase(
        p,
        &[
            " parler a",
            " parler au",
            " parler avec",
            " talk to",
            " talk with",
            " speak to",
            " speak with",
            " en relation",
            " en contact",
            " joindre",
            " passez moi",
            " passe moi",
            " me passer",
            " put me through",
            " connect me",
        ],
    ) && any_phrase(
        p,
        &[
            " infirmier",
            " infirmiere",
            " nurse",
            " manager",
            " responsable",
            " directeur",
            " director",
            " secretaire",
            " reception",
            " agent",
            " conseiller",
            " docteur",
            " doctor",
            " medecin",
            " quelqu un",
            " someone",
            " somebody",
            " personne",
            " person",
            " humain",
            " human",
            " staff",
            " equipe",
            " team",
        ],
    )
}

fn is_handoff(p: &str) -> bool {
    if asks_for_a_person(p) {
        return true;
    }
    let about_own = any_phrase(p, OWN_APPOINTMENT) || any_phrase(p, &[" la date", " l heure"]);
    // "dem call me Chinedu": how people call the writer, not a call-back.
    let named = any_phrase(p, &[" dem call me", " they call me", " people call me", " everybody call me"]);
    if HANDOFF_PHRASES
        .iter()
        .any(|ph| p.contains(ph) && !(about_own && matches!(*ph, " rappelez moi" | " me rappeler")) && !(named && *ph == " call me"))
    {
        return true;
    }
    // "secrétaire" is a handoff only when asked for, not when greeting the bot.
    any_phrase(p, &[" secretaire ", " secretariat ", " receptionniste ", " reception "])
        && any_phrase(
            p,
            &[" parler ", " passer ", " joindre ", " contacter ", " avoir ", " appeler ", " voir ", " me passe", " talk ", " speak "],
        )
}

static REQUEST_FORM: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r" (on peut|on pourrait|est ce possible|c est possible|possible|ca vous va|vous pouvez me prendre|can we|could we|can i come|i fit come|fit i come|we fit do|is it possible) ").unwrap()
});

fn task_intent(p: &str) -> Option<Intent> {
    // A move verb with an appointment a few words after it, whatever lies
    // between ("push one of my appointments", "décaler un de mes rdv").
    static MOVE_AN_APPOINTMENT: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(
            r" (?:move|push|shift|postpone|reschedule|decaler|decale|reporter|reporte|deplacer|deplace|avancer|repousser|repousse)(?: \w+){0,4} (?:rdv|rendez vous|appointments?|appts?|bookings?|consultations?|visits?) ",
        )
        .expect("the move pattern compiles")
    });
    let modify = any_phrase(p, MODIFY_PHRASES) || MOVE_AN_APPOINTMENT.is_match(p);
    let cancel = any_phrase(p, CANCEL_PHRASES);
    let rebook =
        any_phrase(p, &[" plutot ", " a la place ", " instead ", " decaler ", " reprendre ", " un autre ", " une autre ", " another "]);
    let moved = any_phrase(
        p,
        &[" peut il passer a", " peut elle passer a", " faire passer", " come earlier", " come later", " earlier time", " later time"],
    );
    // Rescheduling without the usual verbs: one's own appointment and another
    // time ("mon rdv … plutôt jeudi", "my appointment … instead"), or coming
    // at another time than planned ("venir l'après-midi au lieu du matin").
    let own = any_phrase(p, OWN_APPOINTMENT);
    let other_time =
        any_phrase(p, &[" plutot", " au lieu", " instead", " later", " earlier", " plus tard", " plus tot", " rather than", " a la place"])
            && !any_phrase(p, &[" y a la place", " y a de la place"]);
    let cannot = cancel || any_phrase(p, &[" impossible", " pas possible", " not possible"]);
    let come_instead = any_phrase(p, &[" venir ", " come "]) && any_phrase(p, &[" au lieu", " plutot que", " instead of", " rather than"]);
    // "mon rdv de mardi ne m'arrange plus", "my appointment doesn't suit me
    // any more": the booked time no longer fits; a receptionist offers others.
    let no_longer_fits = own
        && any_phrase(
            p,
            &[
                " m arrange plus",
                " m arrange pas",
                " me convient plus",
                " me va plus",
                " suit me any more",
                " suit me anymore",
                " no longer suits",
                " doesn t suit me",
                " doesn t work for me",
                " no longer works",
                " no good for me",
                " no go work for me",
            ],
        );
    if modify || moved || (cannot && rebook && has_slot_words(p)) || (own && other_time) || come_instead || no_longer_fits {
        return Some(Intent::ModifyAppointment);
    }
    if cancel {
        return Some(Intent::CancelAppointment);
    }
    // "when is the kids' vaccination again?", "c'est quand déjà ?": asking
    // again about something already booked.
    let asks_again =
        any_phrase(p, &[" when is", " what time", " which day", " what day", " quelle heure", " quel jour", " c est quand", " quand"])
            && any_phrase(p, &[" again", " deja"]);
    if any_phrase(p, OWN_APPOINTMENT) && any_phrase(p, OWN_APPOINTMENT_QUESTION)
        || asks_again
        || any_phrase(p, LIST_APPOINTMENT_PHRASES)
        || (any_phrase(p, MY_APPOINTMENTS) && !any_phrase(p, BOOK_VERBS))
    {
        return Some(Intent::ListAppointments);
    }
    // "est-ce que le Dr Kabeya peut me recevoir demain ?" asks for a slot.
    if any_phrase(p, &[" me recevoir", " me prendre", " see me "]) {
        return Some(Intent::BookAppointment);
    }
    let named_doctor = any_phrase(p, &[" le dr ", " le docteur ", " la docteure ", " dr ", " docteur ", " doctor "]);
    // "avec n'importe quel médecin", "any doctor is fine": no preference,
    // not a question about who works here.
    let any_practitioner = any_phrase(p, ANY_PRACTITIONER);
    if !any_practitioner && any_phrase(p, PRACTITIONER_QUESTIONS)
        || named_doctor
            && any_phrase(
                p,
                &[" est la ", " sera la ", " est present", " est presente", " consulte ", " in on ", " travaille", " works ", " work on"],
            )
        || !any_practitioner && asks_for_a_specialist(p)
    {
        return Some(Intent::ListPractitioners);
    }
    // Questions about a document or a result stay questions even with "j'ai besoin".
    if any_phrase(p, &[" est pret", " est prete", " ready", " signed", " signer ", " sign "])
        || any_phrase(p, &[" a jeun", " fast before", " fasting"])
            && (!any_phrase(p, BOOK_VERBS) || any_phrase(p, &[" do i need", " faut il", " dois je", " est ce que je dois", " should i"]))
    {
        return Some(Intent::Information);
    }
    let info = any_phrase(p, INFORMATION_PHRASES);
    let strong_book = any_phrase(p, BOOK_VERBS);
    let book_word = any_phrase(p, BOOK_WORDS);
    if info && !strong_book && !(book_word && has_slot_words(p)) {
        return Some(Intent::Information);
    }
    if book_word || strong_book && (has_service_word(p) || has_slot_words(p)) {
        return Some(Intent::BookAppointment);
    }
    if REQUEST_FORM.is_match(p) && has_slot_words(p) {
        return Some(Intent::BookAppointment);
    }
    if info {
        return Some(Intent::Information);
    }
    // A treatment named, or a symptom described, with nothing else asked:
    // the patient wants to be seen.
    if has_service_word(p) || any_phrase(p, SYMPTOMS) {
        return Some(Intent::BookAppointment);
    }
    None
}

/// "Is there a pediatrician?", "vous avez une sage-femme ?": a specialist asked about.
fn asks_for_a_specialist(p: &str) -> bool {
    let asking = any_phrase(
        p,
        &[
            " is there a",
            " are there",
            " y a t il",
            " il y a un",
            " il y a une",
            " vous avez un",
            " vous avez une",
            " do you have a",
            " do you have any",
            " avez vous un",
            " avez vous une",
        ],
    );
    let specialist = |w: &str| {
        ["logue", "logues", "logist", "logists", "iatre", "iatrician", "tiste"].iter().any(|end| w.ends_with(end))
            || matches!(w, "dentist" | "midwife" | "specialist" | "specialiste" | "gyneco" | "ophtalmo" | "kine" | "physio")
    };
    asking && (any_phrase(p, &[" sage femme", " midwife", " infirmier", " nurse"]) || p.split_whitespace().any(specialist))
}

fn has_service_word(p: &str) -> bool {
    GLOSSARY.iter().any(|e| e.surfaces.iter().any(|s| p.contains(s)))
}

fn has_slot_words(p: &str) -> bool {
    static SLOT: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r" (\d{1,2} ?h|\d{1,2}:\d\d|\d{1,2} ?(am|pm)|midi|noon|demain|dmn|tomorrow|aujourd hui|today|lundi|mardi|mercredi|jeudi|vendredi|samedi|dimanche|monday|tuesday|wednesday|thursday|friday|saturday|sunday|matin|apres midi|aprem|soir|morning|afternoon|evening|le \d{1,2}|\d{1,2}/\d{1,2}|semaine|week)").unwrap()
    });
    SLOT.is_match(p)
}

/// Words that may surround a number when a patient picks from a list, in
/// French, English and Pidgin ("ok pour le 2", "na the 3 o", "take number
/// four", "je vais prendre la troisième alors"). Anything else in the message
/// means it says more than a choice.
const CHOICE_FILLER: &[&str] = &[
    "le",
    "la",
    "l",
    "les",
    "un",
    "the",
    "a",
    "option",
    "opt",
    "numero",
    "num",
    "no",
    "n",
    "nr",
    "number",
    "nb",
    "nbr",
    "choix",
    "choice",
    "creneau",
    "slot",
    "one",
    "celui",
    "celle",
    "ok",
    "okay",
    "oki",
    "okey",
    "oui",
    "yes",
    "yeah",
    "yep",
    "ouais",
    "d",
    "accord",
    "dac",
    "daccord",
    "pour",
    "for",
    "moi",
    "me",
    "je",
    "j",
    "i",
    "ll",
    "will",
    "prends",
    "prend",
    "prendre",
    "vais",
    "veux",
    "voudrais",
    "prefere",
    "choisis",
    "choisi",
    "take",
    "choose",
    "pick",
    "want",
    "go",
    "with",
    "avec",
    "give",
    "donne",
    "donnez",
    "mettez",
    "mets",
    "put",
    "na",
    "o",
    "oh",
    "abeg",
    "biko",
    "make",
    "e",
    "dey",
    "wan",
    "sah",
    "sir",
    "ma",
    "madame",
    "monsieur",
    "doc",
    "please",
    "pls",
    "plz",
    "stp",
    "svp",
    "merci",
    "beaucoup",
    "much",
    "lot",
    "thanks",
    "thank",
    "you",
    "alors",
    "donc",
    "bon",
    "bien",
    "then",
    "so",
    "c",
    "est",
    "it",
    "s",
    "is",
    "that",
    "ca",
    "cela",
    "va",
    "aller",
    "fine",
    "good",
    "parfait",
    "perfect",
    "plait",
    "vous",
    "te",
    "t",
    "et",
    "and",
    "just",
    "juste",
    "seulement",
    "only",
];

/// Numbers written as words; "un"/"une"/"one" are left out because they are
/// articles as often as numbers ("the 10:30 one").
const NUMBER_WORDS: &[(&str, u32)] = &[
    ("deux", 2),
    ("trois", 3),
    ("quatre", 4),
    ("cinq", 5),
    ("six", 6),
    ("sept", 7),
    ("huit", 8),
    ("neuf", 9),
    ("dix", 10),
    ("two", 2),
    ("three", 3),
    ("four", 4),
    ("five", 5),
    ("seven", 7),
    ("eight", 8),
    ("nine", 9),
    ("ten", 10),
    ("premier", 1),
    ("premiere", 1),
    ("first", 1),
    ("1er", 1),
    ("1ere", 1),
    ("1st", 1),
    ("deuxieme", 2),
    ("second", 2),
    ("seconde", 2),
    ("2eme", 2),
    ("2e", 2),
    ("2nd", 2),
    ("troisieme", 3),
    ("third", 3),
    ("3eme", 3),
    ("3e", 3),
    ("3rd", 3),
    ("quatrieme", 4),
    ("fourth", 4),
    ("4eme", 4),
    ("4e", 4),
    ("4th", 4),
    ("cinquieme", 5),
    ("fifth", 5),
    ("5eme", 5),
    ("5e", 5),
    ("5th", 5),
];

/// A message that only selects a numbered item: "3", "le 2", "option 1",
/// "numéro 4", "number 1 please", "le premier", "ok pour le 2", "na the 3 o",
/// "take number four": exactly one number or ordinal among filler words.
pub fn whole_message_choice(folded: &str) -> Option<u32> {
    let cleaned: String = folded.chars().map(|c| if c.is_alphanumeric() || c == '#' { c } else { ' ' }).collect();
    let mut number = None;
    for word in cleaned.split_whitespace() {
        let word = word.trim_start_matches('#');
        let value = if word.chars().all(|c| c.is_ascii_digit()) && (1..=2).contains(&word.len()) {
            word.parse().ok()
        } else {
            NUMBER_WORDS.iter().find(|(w, _)| *w == word).map(|(_, n)| *n)
        };
        match value {
            Some(n) if number.is_none() => number = Some(n),
            Some(_) => return None,
            None if word.is_empty() || CHOICE_FILLER.contains(&word) => {}
            None => return None,
        }
    }
    number.filter(|n| (1..=20).contains(n))
}

/// "le dernier", "la dernière svp", "the last one": only the last option
/// named, among filler words.
pub fn only_last_option(padded: &str) -> bool {
    let mut last = false;
    for word in padded.split_whitespace() {
        match word {
            "dernier" | "derniere" | "last" => last = true,
            w if CHOICE_FILLER.contains(&w) => {}
            _ => return false,
        }
    }
    last
}

/// Whether the message talks about an appointment at all.
pub fn mentions_appointment(p: &str) -> bool {
    any_phrase(p, &[" rdv", " rendez vous", " rendezvous", " appointment", " book", " consult", " reserv", " creneau", " slot"])
}
