//! The embedded retrieval index: BM25 over [`terms`](super::terms) of each
//! passage (its text, its section heading and its document's title), held in
//! memory, one index per clinic. Every search takes the patients whose
//! documents the asker may see; a passage of any other patient is skipped
//! before it is scored, so it can be neither returned nor outrank anything.
//! When an embedding model is configured, passages also carry unit vectors
//! and a search given the question's vector fuses the BM25 ranking with the
//! nearest visible passages ([`dense::fuse`](super::dense::fuse)); the same
//! visibility rule applies to both sides.

use super::dense;
use super::terms::terms;
use std::collections::HashMap;

const K1: f32 = 1.2;
const B: f32 = 0.75;

/// A passage as the index holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct Passage {
    /// The document's id (storage) or path (the `docs search` command).
    pub document: String,
    pub title: String,
    /// The language the document is written in, when known.
    pub language: Option<crate::domain::Lang>,
    /// The patient the document belongs to; `None` for the clinic's.
    pub patient: Option<String>,
    pub page: Option<u32>,
    pub heading: Option<String>,
    pub text: String,
    /// Read by OCR: its page's confidence (0–100).
    pub ocr_confidence: Option<u8>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Hit<'a> {
    pub passage: &'a Passage,
    pub score: f32,
    /// The share of the question's weight (idf) the passage contains, 0–1:
    /// how much of what was asked it speaks about.
    pub coverage: f32,
    /// The share of the question's terms it contains, each counted once
    /// (steadier than `coverage` in a small index, such as one patient's file).
    pub share: f32,
    /// Cosine between the question's vector and the passage's, when both exist.
    pub similarity: Option<f32>,
}

/// A BM25 candidate before it becomes a [`Hit`].
struct Scored {
    id: u32,
    score: f32,
    coverage: f32,
    share: f32,
}

#[derive(Debug, Default)]
pub struct Index {
    passages: Vec<Passage>,
    lengths: Vec<u32>,
    /// Each passage's patient as a small number (`NO_PATIENT` for the clinic's).
    owners: Vec<u32>,
    patient_numbers: HashMap<String, u32>,
    total_length: u64,
    postings: HashMap<String, Vec<(u32, u16)>>,
    /// Unit vectors of the passages that have one, `dims` floats each, flat.
    vectors: Vec<f32>,
    dims: usize,
    /// Each passage's row in `vectors` (`NO_VECTOR` when it has none).
    vector_rows: Vec<u32>,
    /// The dense ranking's weight in the fusion (BM25's is 1).
    dense_weight: f32,
    /// Each passage's number by its document and ordinal (the passages of a
    /// document numbered in the order they were added).
    places: HashMap<(String, u32), u32>,
    ordinals: HashMap<String, u32>,
}

const NO_PATIENT: u32 = u32::MAX;
const NO_VECTOR: u32 = u32::MAX;

impl Index {
    pub fn new() -> Index {
        Index { dense_weight: dense::DEFAULT_WEIGHT, ..Index::default() }
    }

    pub fn len(&self) -> usize {
        self.passages.len()
    }

    pub fn is_empty(&self) -> bool {
        self.passages.is_empty()
    }

    pub fn add(&mut self, passage: Passage) {
        self.add_with_vector(passage, None);
    }

    /// How much the nearest vectors count against the words (BM25 = 1);
    /// [`dense::DEFAULT_WEIGHT`] unless set.
    pub fn set_dense_weight(&mut self, weight: f32) {
        self.dense_weight = weight.max(0.0);
    }

    pub fn passages(&self) -> &[Passage] {
        &self.passages
    }

    /// The same passages, each with its vector (same order as [`passages`](Self::passages)).
    pub fn with_vectors(self, vectors: Vec<Vec<f32>>) -> Index {
        let mut ix = Index::new();
        ix.dense_weight = self.dense_weight;
        for (p, v) in self.passages.into_iter().zip(vectors.into_iter().map(Some).chain(std::iter::repeat(None))) {
            ix.add_with_vector(p, v);
        }
        ix
    }

    /// How many passages carry a vector.
    pub fn vectors(&self) -> usize {
        self.vectors.len().checked_div(self.dims).unwrap_or(0)
    }

    /// Adds a passage with its embedding. A vector whose length differs from
    /// the first one's (another model) is not kept: the passage is found by
    /// its words only.
    pub fn add_with_vector(&mut self, passage: Passage, vector: Option<Vec<f32>>) {
        let row = match vector {
            Some(v) if !v.is_empty() && (self.dims == 0 || v.len() == self.dims) => {
                self.dims = v.len();
                let row = (self.vectors.len() / self.dims) as u32;
                self.vectors.extend(dense::normalized(v));
                row
            }
            _ => NO_VECTOR,
        };
        self.vector_rows.push(row);
        let id = self.passages.len() as u32;
        let next = self.ordinals.entry(passage.document.clone()).or_default();
        self.places.insert((passage.document.clone(), *next), id);
        *next += 1;
        let mut all = terms(&passage.text);
        if let Some(h) = &passage.heading {
            all.extend(terms(h));
        }
        all.extend(terms(&passage.title));
        let mut counts: HashMap<String, u16> = HashMap::new();
        for t in &all {
            *counts.entry(t.clone()).or_default() += 1;
        }
        for (t, n) in counts {
            self.postings.entry(t).or_default().push((id, n));
        }
        let owner = match &passage.patient {
            None => NO_PATIENT,
            Some(p) => {
                let next = self.patient_numbers.len() as u32;
                *self.patient_numbers.entry(p.clone()).or_insert(next)
            }
        };
        self.owners.push(owner);
        self.lengths.push(all.len() as u32);
        self.total_length += all.len() as u64;
        self.passages.push(passage);
    }

    fn idf(&self, term: &str) -> f32 {
        let n = self.passages.len() as f32;
        let df = self.postings.get(term).map_or(0, Vec::len) as f32;
        ((n - df + 0.5) / (df + 0.5) + 1.0).ln()
    }

    /// The `k` best passages for `question` among the clinic's and those of
    /// `patients`, best first.
    pub fn search(&self, question: &str, patients: &[&str], k: usize) -> Vec<Hit<'_>> {
        self.search_with(question, None, patients, k)
    }

    /// As [`search`](Self::search), fused with the passages nearest to the
    /// question's vector when one is given and passages carry vectors.
    pub fn search_with(&self, question: &str, vector: Option<&[f32]>, patients: &[&str], k: usize) -> Vec<Hit<'_>> {
        if self.passages.is_empty() || k == 0 {
            return Vec::new();
        }
        let visible = self.visibility(patients);
        let query = vector.filter(|v| self.dims > 0 && v.len() == self.dims).map(|v| dense::normalized(v.to_vec()));
        let Some(query) = query else {
            return self.bm25(question, &visible, k).into_iter().map(|s| self.hit(s, None)).collect();
        };
        let near = self.nearest(&query, &visible, dense::FUSION_DEPTH.max(k));
        self.fused(question, &near, &visible, k)
    }

    /// As [`search`](Self::search), fused with nearest passages found
    /// elsewhere (a vector store), as (passage number, similarity), nearest
    /// first. A passage not visible to `patients` is dropped here too.
    pub fn search_near(&self, question: &str, near: &[(u32, f32)], patients: &[&str], k: usize) -> Vec<Hit<'_>> {
        if self.passages.is_empty() || k == 0 {
            return Vec::new();
        }
        let visible = self.visibility(patients);
        let near: Vec<(u32, f32)> = near.iter().copied().filter(|(id, _)| (*id as usize) < self.passages.len() && visible(*id)).collect();
        if near.is_empty() {
            return self.bm25(question, &visible, k).into_iter().map(|s| self.hit(s, None)).collect();
        }
        self.fused(question, &near, &visible, k)
    }

    /// Patients by number: a passage is visible if it is the clinic's or one
    /// of theirs; any other is skipped before it is scored.
    fn visibility(&self, patients: &[&str]) -> impl Fn(u32) -> bool + '_ {
        let allowed: Vec<u32> = patients.iter().filter_map(|p| self.patient_numbers.get(*p).copied()).collect();
        move |id: u32| {
            let owner = self.owners[id as usize];
            owner == NO_PATIENT || allowed.contains(&owner)
        }
    }

    fn fused(&self, question: &str, near: &[(u32, f32)], visible: &dyn Fn(u32) -> bool, k: usize) -> Vec<Hit<'_>> {
        let words = self.bm25(question, visible, dense::FUSION_DEPTH.max(k));
        let word_ids: Vec<u32> = words.iter().map(|s| s.id).collect();
        // One order for the nearest whichever store found them: similarity
        // (to 1e-5, below which stores' float rounding differs), then passage.
        let mut near = near.to_vec();
        let key = |s: f32| (s * 1e5).round() as i64;
        near.sort_by(|a, b| key(b.1).cmp(&key(a.1)).then(a.0.cmp(&b.0)));
        let near_ids: Vec<u32> = near.iter().map(|(id, _)| *id).collect();
        let similarity: HashMap<u32, f32> = near.iter().copied().collect();
        let mut by_id: HashMap<u32, Scored> = words.into_iter().map(|s| (s.id, s)).collect();
        dense::fuse_weighted(&[(&word_ids, 1.0), (&near_ids, self.dense_weight)])
            .into_iter()
            .take(k)
            .map(|(id, fused)| {
                let scored = by_id.remove(&id).unwrap_or(Scored { id, score: 0.0, coverage: 0.0, share: 0.0 });
                self.hit(Scored { score: fused, ..scored }, similarity.get(&id).copied())
            })
            .collect()
    }

    /// The number of a document's `ordinal`-th passage, for a vector store's answers.
    pub fn number_of(&self, document: &str, ordinal: u32) -> Option<u32> {
        self.places.get(&(document.to_string(), ordinal)).copied()
    }

    fn hit(&self, s: Scored, similarity: Option<f32>) -> Hit<'_> {
        Hit { passage: &self.passages[s.id as usize], score: s.score, coverage: s.coverage, share: s.share, similarity }
    }

    /// The `k` visible passages nearest to a unit vector, nearest first.
    fn nearest(&self, query: &[f32], visible: &dyn Fn(u32) -> bool, k: usize) -> Vec<(u32, f32)> {
        let mut all: Vec<(u32, f32)> = Vec::with_capacity(self.vectors());
        for (id, row) in self.vector_rows.iter().enumerate() {
            if *row != NO_VECTOR && visible(id as u32) {
                let at = *row as usize * self.dims;
                all.push((id as u32, dense::dot(&self.vectors[at..at + self.dims], query)));
            }
        }
        let better = |a: &(u32, f32), b: &(u32, f32)| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0));
        if all.len() > k {
            all.select_nth_unstable_by(k - 1, better);
            all.truncate(k);
        }
        all.sort_by(better);
        all
    }

    /// The `k` best visible passages by BM25, best first.
    fn bm25(&self, question: &str, visible: &dyn Fn(u32) -> bool, k: usize) -> Vec<Scored> {
        let mut query = terms(question);
        query.sort();
        query.dedup();
        if query.is_empty() {
            return Vec::new();
        }
        let avg = self.total_length as f32 / self.passages.len() as f32;
        let weights: Vec<f32> = query.iter().map(|t| self.idf(t)).collect();
        let total_weight: f32 = weights.iter().sum();
        // Dense accumulators: one slot per passage, the touched ones listed.
        let mut scores = vec![0f32; self.passages.len()];
        let mut matched = vec![0f32; self.passages.len()];
        let mut terms_matched = vec![0u16; self.passages.len()];
        let mut touched: Vec<u32> = Vec::new();
        for (term, w) in query.iter().zip(&weights) {
            let Some(list) = self.postings.get(term) else { continue };
            for &(id, tf) in list {
                if !visible(id) {
                    continue;
                }
                let tf = tf as f32;
                let len = self.lengths[id as usize] as f32;
                let s = w * tf * (K1 + 1.0) / (tf + K1 * (1.0 - B + B * len / avg));
                if matched[id as usize] == 0.0 {
                    touched.push(id);
                }
                scores[id as usize] += s;
                matched[id as usize] += w;
                terms_matched[id as usize] += 1;
            }
        }
        // The k best without sorting every candidate.
        let better = |a: u32, b: u32| {
            scores[b as usize]
                .total_cmp(&scores[a as usize])
                .then_with(|| self.passages[a as usize].document.cmp(&self.passages[b as usize].document))
        };
        if touched.len() > k && k > 0 {
            touched.select_nth_unstable_by(k - 1, |a, b| better(*a, *b));
            touched.truncate(k);
        }
        touched.sort_by(|a, b| better(*a, *b));
        touched.truncate(k);
        touched
            .into_iter()
            .map(|id| Scored {
                id,
                score: scores[id as usize],
                coverage: if total_weight > 0.0 { matched[id as usize] / total_weight } else { 0.0 },
                share: terms_matched[id as usize] as f32 / query.len() as f32,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn passage(doc: &str, patient: Option<&str>, text: &str) -> Passage {
        Passage {
            document: doc.into(),
            title: doc.into(),
            language: None,
            patient: patient.map(Into::into),
            page: None,
            heading: None,
            text: text.into(),
            ocr_confidence: None,
        }
    }

    #[test]
    fn the_passage_that_speaks_of_the_question_comes_first() {
        let mut ix = Index::new();
        ix.add(passage("prep", None, "Pour une prise de sang, venez à jeun depuis 8 heures."));
        ix.add(passage("prix", None, "Échographie pelvienne 35 000 CDF. Radiographie du thorax 25 000 CDF."));
        ix.add(passage("visites", None, "Les visites sont autorisées de 12h à 14h."));
        assert_eq!(ix.search("c'est combien l'échographie pelvienne ?", &[], 3)[0].passage.document, "prix");
        assert_eq!(ix.search("do I need to fast before a blood test", &[], 3)[0].passage.document, "prep");
        assert!(ix.search("wifi password", &[], 3).is_empty());
    }

    #[test]
    fn another_patients_passage_is_never_returned() {
        let mut ix = Index::new();
        ix.add(passage("nfs-a", Some("A"), "Hémoglobine 11,2 g/dL"));
        ix.add(passage("nfs-b", Some("B"), "Hémoglobine 13,5 g/dL"));
        let hits = ix.search("mon hémoglobine", &["A"], 5);
        assert_eq!(hits.iter().map(|h| h.passage.document.as_str()).collect::<Vec<_>>(), vec!["nfs-a"]);
        assert!(ix.search("mon hémoglobine", &[], 5).is_empty());
    }

    #[test]
    fn a_passage_near_the_question_is_found_without_a_shared_word() {
        let mut ix = Index::new();
        ix.add_with_vector(passage("prep", None, "Venez à jeun depuis 8 heures."), Some(vec![1.0, 0.0, 0.0]));
        ix.add_with_vector(passage("prix", None, "Échographie 35 000 CDF."), Some(vec![0.0, 1.0, 0.0]));
        ix.add_with_vector(passage("nfs-b", Some("B"), "Hémoglobine 13,5"), Some(vec![0.9, 0.1, 0.0]));
        // "Can I eat breakfast before the blood draw?" shares no word with "prep".
        let hits = ix.search_with("breakfast before the blood draw", Some(&[0.95, 0.05, 0.0]), &[], 3);
        assert_eq!(hits[0].passage.document, "prep");
        assert!(hits[0].similarity.unwrap() > 0.9);
        assert!(crate::documents::confident(&hits[0]));
        assert!(hits.iter().all(|h| h.passage.patient.is_none()), "patient B's passage is never near enough to be seen");
        // Without the question's vector, words only (nothing shared here).
        assert!(ix.search("breakfast before the blood draw", &[], 3).is_empty());
        // A vector of another length (another model) is not compared.
        assert!(ix.search_with("breakfast before the blood draw", Some(&[1.0, 0.0]), &[], 3).is_empty());
    }

    mod visibility {
        use super::*;
        use proptest::prelude::*;

        const WORDS: &[&str] =
            &["hémoglobine", "prix", "échographie", "résultats", "vaccin", "jeun", "glucose", "ordonnance", "plaquettes", "fièvre"];

        fn text() -> impl Strategy<Value = String> {
            proptest::collection::vec(proptest::sample::select(WORDS), 1..6).prop_map(|w| w.join(" "))
        }

        proptest! {
            /// Whatever the passages and the question, a search returns the
            /// clinic's passages and those of the patients it names, never
            /// another patient's.
            #[test]
            fn a_search_never_returns_a_passage_of_a_patient_it_does_not_name(
                owners in proptest::collection::vec(proptest::option::of(0u8..5), 1..40),
                texts in proptest::collection::vec(text(), 40),
                question in text(),
                allowed in proptest::collection::vec(0u8..5, 0..3),
                vectors in proptest::collection::vec(proptest::option::of(proptest::collection::vec(-1f32..1f32, 4)), 40),
                asked in proptest::option::of(proptest::collection::vec(-1f32..1f32, 4)),
            ) {
                let mut ix = Index::new();
                for (i, owner) in owners.iter().enumerate() {
                    ix.add_with_vector(passage(&format!("d{i}"), owner.map(|p| format!("P{p}")).as_deref(), &texts[i]), vectors[i].clone());
                }
                let allowed: Vec<String> = allowed.iter().map(|p| format!("P{p}")).collect();
                let names: Vec<&str> = allowed.iter().map(String::as_str).collect();
                // Words alone, and words fused with the nearest vectors.
                for hit in ix.search(&question, &names, 50).into_iter().chain(ix.search_with(&question, asked.as_deref(), &names, 50)) {
                    if let Some(p) = &hit.passage.patient {
                        prop_assert!(allowed.contains(p), "{p} returned to {allowed:?}");
                    }
                }
            }
        }
    }
}
