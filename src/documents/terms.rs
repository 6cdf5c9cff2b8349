//! The words retrieval matches, the same for passages and questions: folded
//! (lower case, no accents, as `understanding::normalize` folds), SMS
//! spellings written out, stop words dropped, plurals and common endings
//! reduced, and every word or phrase of the bilingual clinic lexicon mapped
//! to one concept shared by French and English ("prix", "combien", "how
//! much", "price" → `@price`), so a question in one language finds a
//! document in the other.

use crate::understanding::normalize::fold;
use std::collections::HashMap;
use std::sync::OnceLock;

/// Words that carry no subject, in both languages (folded).
const STOP: &[&str] = &[
    "a", "au", "aux", "avec", "ce", "ces", "cette", "c", "d", "dans", "de", "des", "du", "elle", "en", "est", "et", "etre", "il", "ils",
    "j", "je", "l", "la", "le", "les", "leur", "lui", "m", "ma", "mais", "me", "mes", "mon", "n", "ne", "nous", "on", "ou", "par", "pas",
    "pour", "qu", "que", "qui", "s", "sa", "se", "ses", "son", "sur", "t", "ta", "te", "tes", "ton", "tu", "un", "une", "vos", "votre",
    "vous", "y", "ai", "as", "avez", "faut", "il", "est", "sont", "svp", "stp", "bonjour", "merci", "slt", "salut", "oui", "non", "quel",
    "quelle", "quels", "quelles", "comment", "quand", "ou", "moi", "toi", "ca", "cela", "ici", "fait", "faire", "fais", "dois", "doit",
    "peux", "peut", "puis", "veux", "voudrais", "the", "an", "and", "or", "of", "to", "in", "on", "at", "for", "is", "are", "am", "be",
    "do", "does", "did", "i", "me", "my", "you", "your", "we", "our", "it", "its", "this", "that", "what", "which", "who", "how", "when",
    "where", "can", "could", "should", "would", "will", "with", "from", "by", "please", "hello", "hi", "thanks", "there", "get", "have",
    "has", "need", "want", "about", "if", "so", "still", "any", "some", "tell", "know", "dire", "savoir", "aussi", "bien", "tout", "tous",
    "plus", "tres", "deja", "encore", "alors", "donc", "si", "apres", "avant", "after", "before", "much", "many",
];

/// SMS and phonetic spellings (folded) → the word they stand for.
const SPELLINGS: &[(&str, &str)] = &[
    ("kombien", "combien"),
    ("cmb", "combien"),
    ("cbien", "combien"),
    ("koi", "quoi"),
    ("kel", "quel"),
    ("kelle", "quelle"),
    ("ki", "qui"),
    ("ke", "que"),
    ("palu", "paludisme"),
    ("labo", "laboratoire"),
    ("rdv", "rendez-vous"),
    ("resultas", "resultats"),
    ("resulta", "resultat"),
    ("echo", "echographie"),
    ("radio", "radiographie"),
    ("pls", "please"),
    ("plz", "please"),
    ("u", "you"),
    ("ur", "your"),
    ("hw", "how"),
    ("wat", "what"),
    ("tmrw", "tomorrow"),
    ("doc", "doctor"),
    ("vax", "vaccine"),
];

/// Concepts: folded words or phrases of either language → one shared term.
/// Phrases are matched before single words.
const CONCEPTS: &[(&str, &[&str])] = &[
    (
        "@price",
        &[
            "prix", "tarif", "tarifs", "combien", "coute", "coutent", "cout", "payer", "paie", "price", "prices", "cost", "costs",
            "how much", "fee", "fees", "pay",
        ],
    ),
    ("@fasting", &["jeun", "a jeun", "fasting", "fast", "manger", "eat", "eating", "empty stomach"]),
    ("@blood", &["prise de sang", "prelevement", "sang", "sanguin", "sanguine", "blood", "blood test"]),
    ("@ultrasound", &["echographie", "echographies", "ultrasound", "scan", "sonography", "echo"]),
    ("@xray", &["radiographie", "x-ray", "x ray", "xray"]),
    ("@pelvic", &["pelvienne", "pelvic"]),
    ("@abdominal", &["abdominale", "abdominal", "abdomen", "ventre"]),
    ("@chest", &["thorax", "thoracique", "chest", "poitrine"]),
    (
        "@vaccine",
        &["vaccin", "vaccins", "vaccination", "vacciner", "vaccinez", "vaccine", "vaccines", "vaccinated", "shot", "shots", "jab"],
    ),
    ("@measles", &["rougeole", "measles", "rr1", "rr2"]),
    ("@yellowfever", &["fievre jaune", "yellow fever", "carnet jaune", "yellow card"]),
    ("@tetanus", &["tetanos", "tetanus", "vat"]),
    ("@hepatitis", &["hepatite", "hepatitis"]),
    ("@pregnancy", &["grossesse", "enceinte", "prenatale", "prenatales", "prenatal", "antenatal", "pregnancy", "pregnant", "obstetricale"]),
    ("@stitches", &["fils", "points de suture", "suture", "stitches", "stitch"]),
    ("@dressing", &["pansement", "pansements", "dressing", "bandage"]),
    ("@wound", &["plaie", "blessure", "wound", "cicatrice"]),
    ("@surgery", &["chirurgie", "operation", "opere", "surgery", "operated", "procedure", "intervention"]),
    ("@lab", &["laboratoire", "lab", "laboratory", "analyses", "analyse"]),
    ("@result", &["resultat", "resultats", "result", "results", "compte rendu", "report"]),
    (
        "@insurance",
        &[
            "assurance",
            "assurances",
            "assureur",
            "mutuelle",
            "insurance",
            "insurer",
            "insurers",
            "rembourse",
            "rembourser",
            "remboursement",
            "reimbursement",
            "cover",
            "covered",
        ],
    ),
    ("@tooth", &["dent", "dents", "dentaire", "dentiste", "tooth", "teeth", "dental", "dentist"]),
    ("@extraction", &["extraction", "arracher", "enlever une dent", "pulled", "pull", "extracted"]),
    ("@scaling", &["detartrage", "scaling"]),
    ("@filling", &["plombage", "obturation", "filling", "fillings", "cavity", "cavities", "carie", "caries"]),
    ("@malaria", &["paludisme", "malaria", "tdr", "goutte epaisse"]),
    ("@fever", &["fievre", "fever", "temperature", "frissons", "chills"]),
    ("@visit", &["visite", "visites", "visiter", "visiting", "visitors", "visiteurs", "visit"]),
    (
        "@hospital",
        &["hospitalise", "hospitalises", "hospitalisation", "hopital", "admitted", "hospital", "hospitalised", "hospitalized", "chambre"],
    ),
    ("@night", &["nuit", "night", "overnight"]),
    ("@parking", &["parking", "garer", "gare", "park", "stationner", "stationnement"]),
    ("@certificate", &["certificat", "certificats", "certificate", "attestation"]),
    ("@booklet", &["carnet", "carnet de sante", "booklet", "health card"]),
    ("@diabetes", &["diabete", "diabetique", "diabetes", "diabetic"]),
    ("@glucose", &["glycemie", "glucose", "sucre", "sugar", "blood sugar", "hba1c"]),
    ("@hiv", &["vih", "sida", "hiv", "aids"]),
    ("@bus", &["bus", "transco", "taxi", "moto"]),
    ("@wheelchair", &["fauteuil roulant", "wheelchair", "rampe", "ramp", "lift", "ascenseur"]),
    ("@emergency", &["urgence", "urgences", "emergency", "emergencies"]),
    (
        "@child",
        &[
            "enfant",
            "enfants",
            "bebe",
            "bebes",
            "fils",
            "fille",
            "child",
            "children",
            "baby",
            "babies",
            "kid",
            "kids",
            "pediatrie",
            "paediatric",
            "pediatric",
        ],
    ),
    (
        "@hours",
        &[
            "heure",
            "heures",
            "horaire",
            "horaires",
            "ouvre",
            "ouvert",
            "ouverture",
            "ferme",
            "fermeture",
            "hours",
            "open",
            "opening",
            "close",
            "closes",
            "closing",
            "time",
            "jours",
            "days",
        ],
    ),
    ("@saturday", &["samedi", "saturday"]),
    ("@platelets", &["plaquettes", "platelets", "platelet"]),
    ("@haemoglobin", &["hemoglobine", "haemoglobin", "hemoglobin", "hb"]),
    ("@nfs", &["nfs", "numeration formule sanguine", "numeration", "cbc", "full blood count", "blood count"]),
    ("@prescription", &["ordonnance", "prescription", "prescribed", "medicament", "medicaments", "medicine", "medication"]),
    ("@glasses", &["lunettes", "glasses", "verres", "lenses", "vue", "eyesight", "vision"]),
    ("@tablet", &["comprime", "comprimes", "tablet", "tablets", "gelule", "gelules", "capsule", "capsules", "dose", "doses"]),
    ("@urine", &["urine", "urines", "ecbu", "pipi"]),
    ("@teleconsultation", &["teleconsultation", "video", "video call", "appel video", "en ligne", "online"]),
    ("@pain", &["douleur", "douleurs", "mal", "pain", "aspirine", "aspirin", "paracetamol"]),
    ("@bleeding", &["saignement", "saignements", "saigne", "bleeding", "bleed", "sang qui coule"]),
    ("@travel", &["voyage", "voyager", "travel", "travelling", "traveling", "trip", "passeport", "passport"]),
    ("@test", &["test", "tests", "depistage", "screening", "examen", "examens", "exam", "check"]),
    ("@free", &["gratuit", "gratuite", "gratuits", "free", "no charge"]),
    ("@delay", &["delai", "delais", "combien de temps", "how long", "ready", "pret", "prets", "arrives", "arrive"]),
    ("@prepare", &["preparer", "preparation", "prepare", "preparing", "avant l'examen"]),
    ("@risk", &["rapport non protege", "non protege", "unprotected", "exposition", "exposure"]),
    // Departments and their sessions, named differently in each language.
    ("@pharmacy", &["pharmacie", "pharmacien", "pharmacy", "pharmacist", "chemist", "drugstore"]),
    (
        "@physio",
        &["kinesitherapie", "kine", "kinesitherapeute", "reeducation", "physiotherapy", "physio", "physiotherapist", "rehabilitation"],
    ),
    ("@session", &["seance", "seances", "session", "sessions"]),
    ("@maternity", &["maternite", "accouchement", "accoucher", "maternity", "delivery", "labour ward", "give birth"]),
    ("@duration", &["dure", "duree", "lasts", "duration", "long"]),
];

struct Lexicon {
    spellings: HashMap<&'static str, &'static str>,
    stop: std::collections::HashSet<&'static str>,
    words: HashMap<String, Vec<&'static str>>,
    /// Phrases of two or more words, longest first: (words, concept).
    phrases: Vec<(Vec<String>, &'static str)>,
}

fn lexicon() -> &'static Lexicon {
    static L: OnceLock<Lexicon> = OnceLock::new();
    L.get_or_init(|| {
        let mut words: HashMap<String, Vec<&'static str>> = HashMap::new();
        let mut phrases = Vec::new();
        for (concept, forms) in CONCEPTS {
            for form in *forms {
                let parts: Vec<String> = split_words(form).collect();
                if parts.len() == 1 {
                    words.entry(parts[0].clone()).or_default().push(concept);
                } else {
                    phrases.push((parts, *concept));
                }
            }
        }
        phrases.sort_by_key(|(p, _)| std::cmp::Reverse(p.len()));
        Lexicon { spellings: SPELLINGS.iter().copied().collect(), stop: STOP.iter().copied().collect(), words, phrases }
    })
}

/// Folded words, split on anything that is not a letter or a digit.
fn split_words(text: &str) -> impl Iterator<Item = String> + '_ {
    let folded = fold(text);
    folded.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).map(str::to_string).collect::<Vec<_>>().into_iter()
}

/// Plurals and a few endings, so "examens"/"examen", "vaccins"/"vaccin",
/// "results"/"result" meet. Short words and numbers are kept whole.
fn stem(word: &str) -> String {
    if word.len() <= 3 || word.chars().any(|c| c.is_ascii_digit()) {
        return word.to_string();
    }
    for suffix in ["ements", "ement", "ations", "ation", "ings", "ing", "ies", "es", "s", "x", "e"] {
        if let Some(base) = word.strip_suffix(suffix)
            && base.len() >= 4
        {
            return base.to_string();
        }
    }
    word.to_string()
}

/// The terms of a text, in order, with repeats (term frequency counts).
pub fn terms(text: &str) -> Vec<String> {
    let lex = lexicon();
    let words: Vec<String> = split_words(text)
        .flat_map(|w| match lex.spellings.get(w.as_str()) {
            Some(full) => split_words(full).collect::<Vec<_>>(),
            None => vec![w],
        })
        .collect();
    let mut out = Vec::with_capacity(words.len() * 2);
    let mut i = 0;
    while i < words.len() {
        if let Some((len, concept)) = lex.phrases.iter().find_map(|(p, c)| (words[i..].starts_with(p)).then_some((p.len(), *c))) {
            out.push(concept.to_string());
            i += len;
            continue;
        }
        let w = &words[i];
        // A word of the lexicon counts as its concept only, so a passage in
        // either language weighs the same for it.
        if let Some(concepts) = lex.words.get(w.as_str()) {
            out.extend(concepts.iter().map(|c| c.to_string()));
        } else if !lex.stop.contains(w.as_str()) {
            out.push(stem(w));
        }
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_languages_meet_at_one_concept() {
        assert!(terms("c'est combien l'échographie ?").contains(&"@price".to_string()));
        assert!(terms("how much is an ultrasound").contains(&"@ultrasound".to_string()));
        assert!(terms("how much is an ultrasound").contains(&"@price".to_string()));
        assert!(terms("faut-il être à jeun pour la prise de sang").contains(&"@blood".to_string()));
        assert!(terms("do I need to fast before a blood test").contains(&"@fasting".to_string()));
    }

    #[test]
    fn sms_spellings_accents_and_plurals_are_undone() {
        assert_eq!(terms("kombien"), terms("combien"));
        assert_eq!(terms("résultats"), terms("resultat"));
        assert_eq!(terms("VACCINS"), terms("vaccin"));
        assert!(terms("le palu").contains(&"@malaria".to_string()));
    }

    #[test]
    fn stop_words_carry_nothing() {
        assert!(terms("est-ce que vous pouvez me dire").iter().all(|t| !t.starts_with('@')));
        assert!(terms("the and of").is_empty());
    }
}
