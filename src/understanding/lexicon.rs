//! Word lists. Every entry is folded (lower case, no accents) and padded with
//! spaces so that it matches whole words of `normalize::padded` text; an entry
//! without a trailing space is a prefix ("convuls" matches "convulse").

use super::normalize::{Token, fold};
use crate::domain::Lang;
use regex::Regex;
use std::sync::LazyLock;

pub const EMERGENCY_PHRASES: &[&str] = &[
    // chest pain, heart
    " douleur thoracique", " douleurs thoraciques", " douleur a la poitrine", " douleurs a la poitrine", " mal a la poitrine",
    " mal dans la poitrine", " serre la poitrine", " oppression thoracique", " poitrine qui serre", " crise cardiaque", " infarctus",
    " chest pain", " pain in my chest", " pain in his chest", " pain in her chest", " chest hurts", " chest is tight", " heart attack",
    // heavy bleeding
    " saigne beaucoup", " saigne abondamment", " saigne enormement", " saigne sans arret", " saigne fort", " beaucoup de sang",
    " perd beaucoup de sang", " hemorragie", " saignement abondant", " saignements abondants", " saignement important",
    " arrete pas de saigner", " arrete plus de saigner", " bleeding heavily", " heavy bleeding", " bleeding a lot", " lot of blood",
    " won t stop bleeding", " wont stop bleeding", " bleeding badly", " losing a lot of blood", " pisse le sang", " vomit du sang",
    " vomi du sang", " vomissements de sang", " vomiting blood", " crache du sang", " coughing blood", " coughing up blood",
    // breathing
    " respire mal", " respire plus", " respire pas", " arrive pas a respirer", " arrive plus a respirer", " peine a respirer",
    " du mal a respirer", " difficulte a respirer", " difficultes a respirer", " difficulte respiratoire", " difficultes respiratoires",
    " detresse respiratoire", " etouffe", " suffoque", " manque d air", " can t breathe", " cannot breathe", " cant breathe",
    " difficulty breathing", " trouble breathing", " short of breath", " struggling to breathe", " not breathing", " choking",
    " hard to breathe", " breathing difficulty", " no fit breathe", " no dey breathe",
    // unconscious
    " inconscient", " perdu connaissance", " perte de connaissance", " sans connaissance", " se reveille pas", " se reveille plus",
    " reagit plus", " reagit pas", " evanoui", " tombe dans les pommes", " unconscious", " passed out", " fainted", " won t wake up",
    " not waking up", " unresponsive", " collapsed", " s est effondre",
    // seizures
    " convuls", " crise d epilepsie", " crise epilep", " seizure", " fitting", " having fits", " epileptic fit",
    // suicide
    " suicid", " me tuer", " me donner la mort", " en finir avec", " envie d en finir", " mettre fin a mes jours", " mettre fin a ma vie",
    " plus envie de vivre", " envie de mourir", " veux mourir", " kill myself", " end my life", " want to die", " take my own life",
    " take my life", " better off dead",
    // poisoning (also see POISONS with a swallowing verb)
    " empoisonn", " intoxication", " intoxique", " poisoned", " poisoning", " overdose", " surdose",
    // stroke
    " avc ", " stroke", " paralyse", " paralysie", " bouche de travers", " bouche tordue", " visage tordu", " face drooping",
    " ne peut plus parler", " ne peut plus bouger", " slurred speech", " can t move his", " can t move her", " can t move my",
    // burns
    " brulure grave", " brulures graves", " gravement brule", " grave brulure", " grosse brulure", " brule gravement", " severe burn",
    " badly burned", " badly burnt", " serious burn", " brule a l eau bouillante", " brulee a l eau bouillante",
    // other acute situations
    " morsure de serpent", " mordu par un serpent", " snake bite", " bitten by a snake", " renverse par une", " hit by a car",
    " accident grave", " serious accident", " ne bouge plus", " not moving", " urgence vitale", " meurt", " mourant", " dying",
];

pub const POISONS: &[&str] = &[
    " javel", " petrole", " kerosene", " bleach", " poison", " insecticide", " raticide", " mort aux rats", " detergent", " soude",
    " acide", " medicaments", " medicament", " comprimes", " pills", " tablets", " medicine", " pile ", " battery", " essence ",
    " paraffin", " produit",
];

pub const HANDOFF_PHRASES: &[&str] = &[
    " un humain", " une humaine", " etre humain", " vraie personne", " vrai personne", " personne reelle", " une personne",
    " quelqu un", " un agent", " une agente", " un conseiller", " une conseillere", " un operateur", " une operatrice",
    " pas un robot", " pas une machine", " pas un bot", " pas a un robot", " service client", " rappelez moi", " me rappeler",
    " real person", " a human", " human being", " speak to someone", " talk to someone", " speak to a person",
    " talk to a person", " speak with someone", " receptionist", " not a bot", " not a robot", " operator", " customer service",
    " call me back", " a real agent", " an agent", " live agent", " speak to staff", " talk to staff", " somebody",
];

pub const MODIFY_PHRASES: &[&str] = &[
    " deplacer", " deplace ", " reporter", " reporte ", " decaler", " decale ", " avancer mon", " avancer le", " avancer l ",
    " avancer a ", " repousser", " repousse ", " changer l heure", " changer la date", " changer mon r", " changer le r",
    " changer d heure", " changer de date", " changer de jour", " changer le jour", " changer l horaire", " modifier",
    " reprogrammer", " reschedul", " move my", " move the", " move it", " push my", " push it", " push the", " postpone",
    " bring forward", " change my appointment", " change the time", " change the date", " change the day", " change my booking",
    " another day", " another time", " un autre jour", " une autre heure", " un autre creneau", " une autre date",
];

pub const CANCEL_PHRASES: &[&str] = &[
    " annul", " cancel", " pourrai pas venir", " pourrai pas etre la", " pourrais pas venir", " peux pas venir", " peux plus venir",
    " pourrai plus venir", " viendrai pas", " pas pouvoir venir", " can t make it", " cant make it", " cannot make it",
    " can t come", " cant come", " cannot come", " won t be able to come", " won t make it", " wont make it",
    " will not be able to come", " call off", " desist", " drop my appointment",
];

pub const OWN_APPOINTMENT: &[&str] = &[
    " mes rdv", " mes rendez vous", " mon rdv", " mon rendez vous", " mon prochain rdv", " my appointment", " my appointments",
    " my booking", " my next appointment", " j ai rdv", " j ai un rdv", " j ai rendez vous", " ma reservation", " nos rdv",
    " i have an appointment", " have i got",
];

/// Plural "my appointments": a list request on its own ("mes rdv ?").
pub const MY_APPOINTMENTS: &[&str] = &[" mes rdv", " mes rendez vous", " my appointments", " my bookings", " nos rdv", " mes prochains rdv"];

pub const OWN_APPOINTMENT_QUESTION: &[&str] = &[
    " quand", " quelle heure", " quel jour", " toujours", " maintenu", " confirme", " c est quand", " liste", " rappeler",
    " rappel", " voir", " when", " what time", " which day", " still", " list", " check", " remind", " details", " est il",
    " est elle", " is it", " ou en est", " combien de",
];

pub const LIST_APPOINTMENT_PHRASES: &[&str] = &[
    " ai je un rdv", " ai je rdv", " ai je un rendez vous", " est ce que j ai un rdv", " est ce que j ai rdv",
    " do i have an appointment", " do i have a booking", " when is my", " what time is my", " mes prochains rdv",
];

pub const PRACTITIONER_QUESTIONS: &[&str] = &[
    " quels medecins", " quels docteurs", " quel medecin", " quel docteur", " quels praticiens", " quel praticien",
    " qui consulte", " qui travaille", " qui est de garde", " qui est la", " qui est present", " liste des medecins",
    " vous avez un dermatologue", " vous avez un pediatre", " vous avez une pediatre", " vous avez un gyneco", " vous avez un dentiste",
    " vous avez un cardiologue", " vous avez un specialiste", " vous avez un ophtalmo", " vous avez un medecin",
    " y a t il un", " il y a un pediatre", " il y a un dentiste", " il y a un gyneco", " il y a un dermatologue",
    " est ce que le docteur", " est ce que le dr", " est ce que la docteur", " le docteur est la", " le dr est la",
    " est present", " est presente", " est la demain", " est la aujourd hui", " consulte demain", " consulte aujourd hui",
    " consulte le", " consulte ce", " consulte quel", " which doctors", " which doctor", " what doctors", " who is available",
    " who s available", " who is working", " who is on", " who s on", " who works", " is dr", " is doctor", " is the doctor in",
    " do you have a pediatrician", " do you have a dentist", " do you have a gynecologist", " do you have a dermatologist",
    " do you have a specialist", " do you have a doctor", " any pediatrician", " any dentist", " list of doctors",
    " est dispo ", " est disponible ", " is available ", " is in ", " is working",
];

pub const INFORMATION_PHRASES: &[&str] = &[
    " horaire", " heures d ouverture", " heure d ouverture", " ouvert", " ouverte", " fermez", " ferme ", " fermeture",
    " adresse", " ou etes vous", " ou se trouve", " vous etes ou", " situe", " localisation", " comment venir", " plan ",
    " prix", " combien coute", " combien ca coute", " c est combien", " combien pour", " tarif", " cout ", " coute",
    " payer", " paiement", " mobile money", " orange money", " mpesa", " m pesa", " airtel money", " wave ", " moov money",
    " assurance", " mutuelle", " carte bancaire", " cash", " especes", " documents", " document", " apporter", " amener",
    " a jeun", " resultat", " resultats", " ordonnance", " numero", " telephone", " votre tel", " site web", " email de la",
    " faites vous", " vous faites", " proposez vous", " est ce que vous faites", " opening hours", " open ", " close ",
    " closing", " address", " where are you", " located", " location", " how do i get", " price", " prices", " how much",
    " cost", " fee", " fees", " pay ", " payment", " insurance", " bring", " fasting", " fast before", " results", " result",
    " prescription", " phone number", " contact number", " do you do", " do you offer", " do you provide", " parking",
    " certificat", " dossier", " carnet",
];

pub const BOOK_WORDS: &[&str] = &[
    " rdv", " rendez vous", " rendez vs", " rv ", " rendevous", " appointment", " appt", " book", " booking", " reserver",
    " reservation", " creneau", " creneaux", " disponibilite", " slot", " slots", " anything free", " free on", " free slot",
    " prendre un rdv", " consulter", " voir le docteur", " voir un docteur", " voir le medecin", " voir un medecin", " voir le dr",
    " see a doctor", " see the doctor", " see dr", " see doctor", " vacciner", " faire vacciner", " schedule", " une place",
    " de la place", " des places", " available on", " availability", " prise en charge",
];

pub const BOOK_VERBS: &[&str] = &[
    " voudrais", " veux ", " voulais", " souhaite", " souhaiterais", " besoin", " aimerais", " prendre", " reserver", " book",
    " want", " need", " would like", " i d like", " like to", " can i get", " could i get", " dispo", " disponible", " libre",
    " free ", " available", " wan ", " go like",
];

pub const AFFIRMATIVE_STARTS: &[&str] = &[
    " oui", " ouais", " ouai ", " wi ", " yes", " yep", " yeah", " yup", " ok ", " okay", " okey", " oki", " dac ", " d accord",
    " daccord", " ca marche", " c est bon", " c est parfait", " parfait", " entendu", " bien sur", " volontiers", " sure",
    " of course", " sounds good", " great", " perfect", " alright", " all right", " confirm", " je confirme", " correct",
    " exact", " tout a fait", " absolument", " absolutely", " c est ca", " ca me va", " ca me convient", " vas y", " go ahead",
    " ok merci", " good", " fine", " cool ", " top ", " super ", " nickel", " i agree", " agreed", " certainly", " yes please",
];

pub const AFFIRMATIVE_PHRASES: &[&str] = &[
    " je serai la", " je viendrai", " je suis en route", " j arrive", " i ll be there", " i will be there", " on my way",
    " ca me va ", " ca me convient", " c est ok", " that works", " works for me", " je confirme", " i confirm",
];

pub const NEGATIVE_STARTS: &[&str] = &[
    " non", " nn ", " no ", " nope", " nah", " pas du tout", " jamais", " negatif", " not really", " absolument pas", " surtout pas",
    " pas vraiment", " pas ca", " pas celui", " never",
];

pub const NEGATIVE_PHRASES: &[&str] = &[
    " ne m arrange pas", " ne me va pas", " ne me convient pas", " m arrange pas", " me va pas", " me convient pas",
    " doesn t work", " does not work", " won t work", " doesn t suit", " not possible", " pas possible", " impossible pour moi",
    " non merci", " no thanks", " no thank you",
];

pub const GREETINGS: &[&str] = &[
    " bonjour", " bonsoir", " bjr", " bsr", " slt", " salut", " cc ", " coucou", " hello", " hi ", " hey", " good morning",
    " good afternoon", " good evening", " good night", " merci", " thanks", " thank you", " thx", " au revoir", " bye",
    " a bientot", " bonne journee", " bonne soiree", " bonne nuit", " mbote", " nanga def", " salam", " ca va", " how are you",
    " comment allez vous", " bonne fin de journee", " god bless", " dieu vous benisse", " mrc", " bne journee", " jambo",
    " mbolo", " i ni ce", " akwaba", " good day", " greetings",
];

/// Ordinal selections, whole message only.
pub const ORDINALS: &[(&[&str], u32)] = &[
    (&[" premier ", " premiere ", " 1er ", " 1ere ", " first "], 1),
    (&[" deuxieme ", " second ", " seconde ", " 2eme ", " 2e "], 2),
    (&[" troisieme ", " third ", " 3eme ", " 3e "], 3),
    (&[" quatrieme ", " fourth ", " 4eme ", " 4e "], 4),
    (&[" cinquieme ", " fifth ", " 5eme ", " 5e "], 5),
];

/// One appointment type: its canonical names and the surface forms (both
/// languages) that mention it. Longer surfaces come first within an entry.
pub struct GlossaryEntry {
    pub fr: &'static str,
    pub en: &'static str,
    pub surfaces: &'static [&'static str],
}

pub const GLOSSARY: &[GlossaryEntry] = &[
    GlossaryEntry {
        fr: "consultation prénatale",
        en: "prenatal visit",
        surfaces: &[" consultation prenatale", " consultations prenatales", " cpn ", " prenatal", " antenatal", " anc "],
    },
    GlossaryEntry { fr: "contrôle", en: "check-up", surfaces: &[" visite de controle", " controle", " check up", " checkup"] },
    GlossaryEntry {
        fr: "détartrage",
        en: "dental cleaning",
        surfaces: &[" detartrage", " dental cleaning", " teeth cleaning", " tooth cleaning", " nettoyage des dents"],
    },
    GlossaryEntry {
        fr: "vaccination",
        en: "vaccination",
        surfaces: &[" vaccination", " vaccins", " vaccin ", " vacciner", " vaccine", " shots ", " shot ", " vaccinate", " immunization"],
    },
    GlossaryEntry { fr: "échographie", en: "ultrasound", surfaces: &[" echographie", " echo ", " echos ", " ultrasound", " scan "] },
    GlossaryEntry {
        fr: "pédiatrie",
        en: "pediatrics",
        surfaces: &[" pediatre", " pediatrie", " pediatrician", " pediatrics", " paediatrician", " paediatrics"],
    },
    GlossaryEntry {
        fr: "gynécologie",
        en: "gynecology",
        surfaces: &[" gynecologue", " gynecologie", " gyneco", " gyneco ", " gynecologist", " gynecology", " gynaecolog"],
    },
    GlossaryEntry {
        fr: "prise de sang",
        en: "blood test",
        surfaces: &[" prise de sang", " bilan sanguin", " analyse de sang", " analyses de sang", " blood test", " blood work"],
    },
    GlossaryEntry { fr: "radiographie", en: "x-ray", surfaces: &[" radiographie", " radio ", " x ray", " xray"] },
    GlossaryEntry {
        fr: "test paludisme",
        en: "malaria test",
        surfaces: &[" test palu", " test de palu", " test du palu", " test paludisme", " test de paludisme", " test du paludisme", " goutte epaisse", " malaria test", " test for malaria"],
    },
    GlossaryEntry { fr: "certificat médical", en: "medical certificate", surfaces: &[" certificat medical", " medical certificate"] },
    GlossaryEntry {
        fr: "extraction dentaire",
        en: "tooth extraction",
        surfaces: &[" extraction dentaire", " extraction", " arracher une dent", " arracher ma dent", " arracher la dent", " enlever une dent", " tooth extraction", " pull a tooth", " pull out a tooth", " extract a tooth", " tooth pulled"],
    },
    GlossaryEntry { fr: "consultation", en: "consultation", surfaces: &[" consultation", " consult "] },
];

/// The clinic's own names, so that "dr mbuy" finds Dr Mbuyi and the clinic's
/// treatment names are recognised.
#[derive(Debug, Clone, Default)]
pub struct ClinicLexicon {
    /// (folded last name, folded full name, name as the clinic writes it)
    pub practitioners: Vec<(String, String, String)>,
    /// (folded surface, canonical fr, canonical en)
    pub services: Vec<(String, String, String)>,
}

impl ClinicLexicon {
    pub fn new(practitioners: &[(String, String)], services: &[(String, String)]) -> Self {
        Self {
            practitioners: practitioners
                .iter()
                .map(|(first, last)| {
                    let full = format!("{first} {last}").trim().to_string();
                    (fold(last), fold(&full), last.clone())
                })
                .collect(),
            services: services
                .iter()
                .flat_map(|(fr, en)| [(fold(fr), fr.clone(), en.clone()), (fold(en), fr.clone(), en.clone())])
                .collect(),
        }
    }

    /// The clinic's spelling of a practitioner named (roughly) `written`.
    pub fn match_practitioner(&self, written: &str) -> Option<String> {
        let w = fold(written);
        let last_word = w.split_whitespace().last().unwrap_or_default().to_string();
        self.practitioners
            .iter()
            .find(|(last, full, _)| *full == w || *last == w || *last == last_word)
            .or_else(|| {
                self.practitioners.iter().find(|(last, _, _)| {
                    let limit = if last.len() >= 5 { 2 } else { 1 };
                    last_word.len() >= 3 && (edit_distance(last, &last_word) <= limit || (last.starts_with(&last_word) && last_word.len() + 2 >= last.len()))
                })
            })
            .map(|(_, _, name)| name.clone())
    }
}

/// Levenshtein distance on chars; small strings only.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != *cb)).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

pub fn appointment_type(p: &str, lang: Lang, lexicon: Option<&ClinicLexicon>) -> Option<String> {
    let pick = |fr: &str, en: &str| match lang {
        Lang::Fr => fr.to_string(),
        Lang::En => en.to_string(),
    };
    if let Some(lex) = lexicon {
        let mut found: Option<(usize, usize, String)> = None;
        for (surface, fr, en) in &lex.services {
            if let Some(at) = p.find(&format!(" {surface} ")) {
                if found.as_ref().is_none_or(|(a, l, _)| at < *a || (at == *a && surface.len() > *l)) {
                    found = Some((at, surface.len(), pick(fr, en)));
                }
            }
        }
        if let Some((_, _, name)) = found {
            return Some(name);
        }
    }
    let mut best: Option<(usize, usize, &GlossaryEntry)> = None;
    for entry in GLOSSARY {
        for s in entry.surfaces {
            if let Some(at) = p.find(s) {
                if best.is_none_or(|(a, l, _)| at < a || (at == a && s.len() > l)) {
                    best = Some((at, s.len(), entry));
                }
            }
        }
    }
    best.map(|(_, _, e)| pick(e.fr, e.en))
}

static EMAIL: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"[a-z0-9._%+-]+@[a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z]{2,}").unwrap());

pub fn email(folded: &str) -> Option<String> {
    EMAIL.find(folded).map(|m| m.as_str().to_string())
}

const EN_WORDS: &[&str] = &[
    "the", "i", "my", "is", "are", "you", "please", "appointment", "hello", "hi", "want", "need", "can", "tomorrow", "today",
    "morning", "afternoon", "evening", "yes", "no", "thanks", "thank", "doctor", "what", "when", "book", "cancel", "have", "do",
    "for", "with", "it", "this", "next", "free", "available", "pain", "help", "and", "be", "will", "would", "like", "could",
    "make", "dey", "wetin", "abeg", "una", "pikin", "sabi", "don", "go", "am", "wan", "fit", "how", "much", "where", "your",
    "me", "a", "an", "to", "of", "in", "on", "at", "any", "anything", "there", "yeah", "yep", "sure", "bye", "good", "okay",
    "who", "which", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday", "move", "reschedule",
    "person", "human", "hey", "name", "born", "daughter", "son", "wife", "husband", "mother", "child", "baby", "can't", "i'm",
    "i'll", "don't", "doesn't", "won't", "it's", "that's", "not", "nope", "from", "we", "he", "she", "they", "his", "her",
    "bleeding", "breathe", "chest", "check", "up", "test", "x", "ray", "open", "price", "results", "see", "get", "one",
    "number", "option", "first", "second", "works", "fine", "great", "there's", "pm", "noon", "night", "week", "day",
];

const FR_WORDS: &[&str] = &[
    "je", "j", "le", "la", "les", "un", "une", "de", "du", "des", "mon", "ma", "mes", "est", "pour", "avec", "bonjour",
    "bonsoir", "rdv", "demain", "oui", "non", "merci", "svp", "stp", "voudrais", "veux", "suis", "pas", "au", "aux", "et", "a",
    "c", "ce", "ca", "qui", "quand", "quel", "quelle", "vous", "nous", "il", "elle", "rendez", "matin", "soir", "docteur",
    "annuler", "jour", "lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche", "bjr", "slt", "salut", "dmn",
    "aujourd'hui", "apres", "midi", "heure", "heures", "sur", "dans", "en", "que", "qu", "d", "l", "m", "t", "s", "n", "y",
    "mais", "ou", "si", "tres", "fille", "fils", "maman", "papa", "mari", "femme", "enfant", "bebe", "nom", "prenom", "nee",
    "ne", "appelle", "m'appelle", "c'est", "j'ai", "d'accord", "dac", "ok", "plutot", "peut", "pouvez", "avez", "etes",
    "faire", "prendre", "venir", "mal", "douleur", "urgent", "aide", "medecin", "prix", "combien", "ouvert", "adresse",
    "semaine", "prochain", "prochaine", "cet", "cette", "moi", "toi", "lui", "leur", "son", "sa", "ses", "notre", "votre",
    "mais", "donc", "car", "chez", "vers", "deja", "encore", "aussi", "bien", "bon", "bonne", "journee", "soiree", "creneau",
    "consultation", "controle", "vaccin", "echo", "sang", "ecris", "parler", "quelqu'un", "personne", "humain", "secretaire",
    "depuis", "hier", "ici", "voila", "possible", "premier", "deuxieme", "numero", "choix", "daccord", "ouais", "nn", "svp",
];

/// Counts French and English marker words; `None` when there are none.
pub fn language_scores(tokens: &[Token<'_>]) -> Option<(usize, usize)> {
    let (mut fr, mut en) = (0, 0);
    for t in tokens {
        let w = t.folded.as_str();
        let w_no_apostrophe = w.split('\'').next().unwrap_or(w);
        if FR_WORDS.contains(&w) || (w.contains('\'') && FR_WORDS.contains(&w_no_apostrophe)) {
            fr += 1;
        }
        if EN_WORDS.contains(&w) {
            en += 1;
        }
    }
    (fr + en > 0).then_some((fr, en))
}

/// Scores French and English marker words; ties and silence give French.
pub fn detect_language(tokens: &[Token<'_>]) -> Lang {
    match language_scores(tokens) {
        Some((fr, en)) if en > fr => Lang::En,
        _ => Lang::Fr,
    }
}
