//! A folder of documents indexed in memory: the `nuru docs search` and
//! `nuru eval-docs` commands. Files under `patients/<KEY>/` belong to patient
//! KEY, everything else to the clinic; a document's name is its path relative
//! to the folder.

use super::{Format, Index, Passage, chunk, extract};
use crate::domain::Lang;
use std::path::{Path, PathBuf};

pub struct Folder {
    pub index: Index,
    pub documents: usize,
    /// Scans and photos with no text layer, by relative path.
    pub needs_ocr: Vec<String>,
    /// Files that could not be read, with the reason.
    pub failed: Vec<(String, String)>,
}

impl Folder {
    /// Indexes a scan of `needs_ocr` that OCR has read: its confident pages'
    /// passages, marked with their confidence. A scan OCR could not read
    /// stays in `needs_ocr`.
    pub fn add_read(&mut self, rel: &str, read: &super::Ingested) {
        if read.passages.is_empty() {
            return;
        }
        self.needs_ocr.retain(|r| r != rel);
        self.documents += 1;
        let patient = rel.strip_prefix("patients/").and_then(|r| r.split_once('/')).map(|(key, _)| key.to_string());
        let title = title_from_file_name(rel);
        for p in &read.passages {
            self.index.add(Passage {
                document: rel.to_string(),
                title: title.clone(),
                language: read.language,
                patient: patient.clone(),
                page: p.page,
                heading: p.heading.clone(),
                text: p.text.clone(),
                ocr_confidence: p.ocr_confidence,
            });
        }
    }
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.path());
    for e in entries {
        let path = e.path();
        if e.file_type()?.is_dir() {
            walk(&path, out)?;
        } else {
            out.push(path);
        }
    }
    Ok(())
}

/// Title shown to patients: the file name without extension, dashes as spaces.
pub fn title_from_file_name(name: &str) -> String {
    let stem = name.rsplit('/').next().unwrap_or(name);
    let stem = stem.rsplit_once('.').map_or(stem, |(s, _)| s);
    stem.replace(['-', '_'], " ")
}

pub fn load(dir: &Path) -> std::io::Result<Folder> {
    let mut files = Vec::new();
    walk(dir, &mut files)?;
    let mut folder = Folder { index: Index::new(), documents: 0, needs_ocr: Vec::new(), failed: Vec::new() };
    for path in files {
        let rel = path.strip_prefix(dir).unwrap_or(&path).to_string_lossy().replace('\\', "/");
        let Some(format) = Format::detect(None, &rel) else { continue };
        let patient = rel.strip_prefix("patients/").and_then(|r| r.split_once('/')).map(|(key, _)| key.to_string());
        let bytes = std::fs::read(&path)?;
        let extracted = match extract(format, &bytes) {
            Ok(e) => e,
            Err(e) => {
                folder.failed.push((rel, e.to_string()));
                continue;
            }
        };
        if extracted.needs_ocr {
            folder.needs_ocr.push(rel);
            continue;
        }
        folder.documents += 1;
        let title = title_from_file_name(&rel);
        let language = super::language_of(&extracted);
        for c in chunk(&extracted, format) {
            folder.index.add(Passage {
                document: rel.clone(),
                title: title.clone(),
                language,
                patient: patient.clone(),
                page: c.page,
                heading: c.heading,
                text: c.text,
                ocr_confidence: None,
            });
        }
    }
    Ok(folder)
}

#[derive(Debug, serde::Deserialize)]
pub struct Question {
    pub id: String,
    pub question: String,
    #[serde(default)]
    pub patient: Option<String>,
    /// Labelled sets only: documents that answer it (empty: none does).
    #[serde(default)]
    pub expected: Option<Vec<String>>,
}

#[derive(Debug, serde::Serialize)]
pub struct Found {
    pub document: String,
    pub page: Option<u32>,
    pub text: String,
    pub score: f64,
}

pub fn search(index: &Index, q: &Question, vector: Option<&[f32]>, k: usize) -> Vec<Found> {
    let patients: Vec<&str> = q.patient.as_deref().into_iter().collect();
    index
        .search_with(&q.question, vector, &patients, k)
        .into_iter()
        .map(|h| Found {
            document: h.passage.document.clone(),
            page: h.passage.page,
            text: h.passage.text.clone(),
            score: (h.score as f64 * 1000.0).round() / 1000.0,
        })
        .collect()
}

/// recall@1, recall@3 and MRR (over answerable questions, at k = 10), and
/// for the unanswerable ones how often nothing confident came back.
#[derive(Debug, Default, Clone, Copy)]
pub struct Scores {
    pub answerable: usize,
    pub at1: usize,
    pub at3: usize,
    pub reciprocal: f64,
    pub unanswerable: usize,
    pub abstained: usize,
}

impl Scores {
    pub fn recall_at_1(&self) -> f64 {
        self.at1 as f64 / self.answerable.max(1) as f64
    }
    pub fn recall_at_3(&self) -> f64 {
        self.at3 as f64 / self.answerable.max(1) as f64
    }
    pub fn mrr(&self) -> f64 {
        self.reciprocal / self.answerable.max(1) as f64
    }
}

impl std::fmt::Display for Scores {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} answerable: recall@1 {:.3}  recall@3 {:.3}  MRR {:.3}; {} unanswerable: {} with no confident passage",
            self.answerable,
            self.recall_at_1(),
            self.recall_at_3(),
            self.mrr(),
            self.unanswerable,
            self.abstained
        )
    }
}

pub struct Evaluation {
    pub all: Scores,
    pub french: Scores,
    pub english: Scores,
    /// Answerable questions whose document was not in the top 3: (id, question, got).
    pub misses: Vec<(String, String, Vec<String>)>,
}

pub fn evaluate(index: &Index, questions: &[Question]) -> Evaluation {
    evaluate_with(index, questions, None)
}

/// As [`evaluate`], each question searched with its vector (same order as
/// `questions`) when vectors are given.
pub fn evaluate_with(index: &Index, questions: &[Question], vectors: Option<&[Vec<f32>]>) -> Evaluation {
    let mut e = Evaluation { all: Scores::default(), french: Scores::default(), english: Scores::default(), misses: Vec::new() };
    for (n, q) in questions.iter().enumerate() {
        let Some(expected) = &q.expected else { continue };
        let lang = crate::understanding::extract(&q.question, chrono::NaiveDateTime::default(), None).language;
        let patients: Vec<&str> = q.patient.as_deref().into_iter().collect();
        let hits = index.search_with(&q.question, vectors.and_then(|v| v.get(n)).map(Vec::as_slice), &patients, 10);
        for s in [&mut e.all, if lang == Lang::Fr { &mut e.french } else { &mut e.english }] {
            if expected.is_empty() {
                s.unanswerable += 1;
                if !hits.first().is_some_and(super::confident) {
                    s.abstained += 1;
                }
                continue;
            }
            s.answerable += 1;
            if let Some(rank) = hits.iter().position(|h| expected.contains(&h.passage.document)) {
                s.reciprocal += 1.0 / (rank + 1) as f64;
                s.at1 += usize::from(rank == 0);
                s.at3 += usize::from(rank < 3);
            }
        }
        if !expected.is_empty() && !hits.iter().take(3).any(|h| expected.contains(&h.passage.document)) {
            e.misses.push((q.id.clone(), q.question.clone(), hits.iter().take(3).map(|h| h.passage.document.clone()).collect()));
        }
    }
    e
}
