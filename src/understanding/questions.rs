//! What an information question asks about, read from the words: the
//! address and the way there, opening hours, the phone number, prices, and
//! the topics a clinic answers in its settings (payment, documents, fasting,
//! parking, results).

use crate::domain::InfoTopic;

/// The subjects of a question (several may be asked at once).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Asks {
    pub address: bool,
    pub hours: bool,
    pub phone: bool,
    pub prices: bool,
    pub payment: bool,
    pub documents: bool,
    pub fasting: bool,
    pub parking: bool,
    pub results: bool,
    /// About the writer's own file: "mes résultats", "my prescription".
    pub own_file: bool,
}

impl Asks {
    /// Whether the question asks about anything at all.
    pub fn any(&self) -> bool {
        *self != Asks::default()
    }

    /// The topics answered from the clinic's own texts, in a stable order.
    pub fn topics(&self) -> impl Iterator<Item = InfoTopic> {
        [
            (self.payment, InfoTopic::Payment),
            (self.documents, InfoTopic::Documents),
            (self.fasting, InfoTopic::Fasting),
            (self.parking, InfoTopic::Parking),
            (self.results, InfoTopic::Results),
        ]
        .into_iter()
        .filter_map(|(asked, topic)| asked.then_some(topic))
    }
}

const ADDRESS: &[&str] = &[
    "adresse",
    "ou etes",
    "ou se trouve",
    "c est ou",
    " ou est",
    "situe",
    "address",
    "where",
    "located",
    "localisation",
    "comment venir",
    "get to",
    "get there",
    "reach you",
    "venir chez",
    "pour venir",
    "a cote de",
    "pres de quoi",
    "how far",
    "loin",
    "far from",
    "una dey",
    "una place",
    "itineraire",
    "repere",
    "landmark",
    "una clinic",
    "where una",
];
const HOURS: &[&str] = &["horaire", "heure", "ouvert", "ouverte", "ferme", "open", "close", "hours"];
const PHONE: &[&str] = &["numero", "telephone", "phone", "number", "appeler", "call", "joindre"];
const PRICES: &[&str] = &["prix", "combien", "cout", "tarif", "price", "cost", "how much", "fee"];
const PAYMENT: &[&str] = &[
    "paie",
    "paye",
    "payer",
    "paiement",
    "mobile money",
    "m pesa",
    "mpesa",
    "orange money",
    "airtel",
    "cash",
    "especes",
    "carte",
    "assurance",
    "mutuelle",
    "pay",
    "insurance",
];
const DOCUMENTS: &[&str] = &["apporter", "document", "papiers", "carnet", "bring"];
const FASTING: &[&str] = &["a jeun", "jeun", "fast"];
const PARKING: &[&str] = &["parking", "garer", "park"];
const RESULTS: &[&str] = &["resultat", "result", "analyse"];
/// A possessive before a word of the medical file.
const OWN_FILE: &[&str] = &[
    " mes resultat",
    " mon resultat",
    " mes analyse",
    " mon analyse",
    " mon bilan",
    " mon ordonnance",
    " mes ordonnance",
    " mon compte rendu",
    " mon taux",
    " ma glycemie",
    " mon dossier",
    " mes examens",
    " my result",
    " my lab",
    " my test result",
    " my blood test",
    " my prescription",
    " my report",
    " my file",
    " my scan",
    " my ultrasound",
    " my glucose",
    " my platelet",
    " my hemoglobin",
    " my haemoglobin",
    " my hba1c",
    " ma nfs",
    " mon hba1c",
    " mon echographie",
    " mes plaquettes",
    " mon hemoglobine",
];

/// "vous êtes où ?", "la clinique est où exactement ?", "on vous trouve
/// où ?": spoken French puts "où" last, after the verb of place.
static WHERE_LAST: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
    regex::Regex::new(
        r" (?:etes|est|sont|trouve|trouvez|trouver|situe|situee|situes|situez|installes|installe|habitez) ou(?: exactement| precisement| svp| stp| donc| alors| deja)* $",
    )
    .expect("the where-last pattern compiles")
});

/// `padded` is the folded message with single spaces and a space at both ends.
pub fn read(padded: &str) -> Asks {
    let has = |words: &[&str]| words.iter().any(|w| padded.contains(w));
    Asks {
        address: has(ADDRESS) || WHERE_LAST.is_match(padded),
        hours: has(HOURS),
        phone: has(PHONE),
        prices: has(PRICES),
        payment: has(PAYMENT),
        documents: has(DOCUMENTS),
        fasting: has(FASTING),
        parking: has(PARKING),
        results: has(RESULTS),
        own_file: has(OWN_FILE),
    }
}
