//! `nuru eval-nlu` and `nuru train-intent`: scoring the understanding
//! against labelled messages, and training the classifier the binary ships.

use super::{parse_now, parse_tz};
use crate::understanding::classifier::{self, Model, Params};
use crate::understanding::eval::{Labelled, Report};
use crate::understanding::{self, Intent};
use anyhow::Context;
use std::path::{Path, PathBuf};

/// What the shipped classifier is trained on, relative to the repository.
/// Every other `fixtures/nlu-*.jsonl` file is never trained on: the untuned
/// probe, the held-out halves of the fresh batches, the held-out signs.
pub const TRAINING_SETS: &[&str] =
    &["fixtures/nlu-corpus.jsonl", "fixtures/nlu-batch-signs.jsonl", "fixtures/nlu-fresh1-train.jsonl", "fixtures/nlu-fresh2-train.jsonl"];

/// Where `train-intent` writes by default (what `include_bytes!` ships).
pub const SHIPPED_MODEL_PATH: &str = "src/understanding/intent-model.bin";

pub struct Thresholds {
    pub min_intent_accuracy: f64,
    pub min_entity_f1: f64,
    pub min_emergency_recall: f64,
    pub max_false_alarms_per_200: Option<f64>,
}

/// How `eval-nlu` reads the intent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// The shipped classifier with the rules (what the server runs).
    Shipped,
    /// The rules alone.
    RulesOnly,
    /// The shipped classifier's best intent alone (entities from the rules).
    ClassifierOnly,
    /// K-fold cross-validation: each fold scored by a classifier trained on
    /// every training set without that fold.
    CrossValidate(usize),
}

fn read_labelled(file: &Path) -> anyhow::Result<Vec<Labelled>> {
    let text = std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty() && !l.trim_start().starts_with("//")) {
        out.push(serde_json::from_str(line).with_context(|| format!("{}:{}: not a labelled message", file.display(), n + 1))?);
    }
    Ok(out)
}

fn examples(messages: &[Labelled]) -> Vec<(String, Intent)> {
    messages.iter().map(|m| (understanding::classifier_text(&m.text), m.intent)).collect()
}

/// The training examples of every training set under `root`, in order;
/// with `except`, that file's messages are left to the caller.
fn training_examples(root: &Path, except: Option<&Path>) -> anyhow::Result<Vec<(String, Intent)>> {
    let mut out = Vec::new();
    for set in TRAINING_SETS {
        let path = root.join(set);
        if except.is_some_and(|e| same_file(e, &path)) {
            continue;
        }
        out.extend(examples(&read_labelled(&path)?));
    }
    Ok(out)
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(x), Ok(y)) => x == y,
        _ => false,
    }
}

pub fn train_intent(root: &Path, out: Option<PathBuf>) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    let examples = training_examples(root, None)?;
    let model = classifier::train(&examples, Params::default());
    let out = out.unwrap_or_else(|| root.join(SHIPPED_MODEL_PATH));
    let bytes = model.to_bytes();
    std::fs::write(&out, &bytes).with_context(|| format!("writing {}", out.display()))?;
    println!(
        "trained on {} messages from {} in {:.2} s; wrote {} ({} bytes)",
        examples.len(),
        TRAINING_SETS.join(", "),
        started.elapsed().as_secs_f64(),
        out.display(),
        bytes.len()
    );
    Ok(())
}

pub fn eval_nlu(file: &Path, errors: bool, t: &Thresholds, mode: Mode) -> anyhow::Result<()> {
    let messages = read_labelled(file)?;
    let mut report = Report::default();
    let now_of = |gold: &Labelled| parse_now(Some(&gold.now), parse_tz(&gold.tz)?).with_context(|| format!("message {}", gold.id));
    let score = |report: &mut Report, gold: &Labelled, model: Option<&Model>| -> anyhow::Result<()> {
        report.add(gold, &understanding::extract_with(&gold.text, now_of(gold)?, None, model));
        Ok(())
    };
    match mode {
        Mode::ClassifierOnly => {
            for gold in &messages {
                let mut x = understanding::extract_with(&gold.text, now_of(gold)?, None, None);
                x.intent = understanding::SHIPPED_MODEL.predict(&understanding::classifier_text(&gold.text)).0;
                report.add(gold, &x);
            }
        }
        Mode::Shipped | Mode::RulesOnly => {
            let model = (mode == Mode::Shipped).then_some(&*understanding::SHIPPED_MODEL);
            for gold in &messages {
                score(&mut report, gold, model)?;
            }
        }
        Mode::CrossValidate(k) => {
            anyhow::ensure!(k >= 2, "--cv needs at least 2 folds");
            let root = std::env::current_dir()?;
            anyhow::ensure!(
                TRAINING_SETS.iter().any(|s| same_file(file, &root.join(s))),
                "{} is not a training set ({}): it is never trained on, so score it without --cv",
                file.display(),
                TRAINING_SETS.join(", ")
            );
            let others = training_examples(&root, Some(file))?;
            let own = examples(&messages);
            let mut alone = 0;
            for fold in 0..k {
                let mut train: Vec<(String, Intent)> = others.clone();
                train.extend(own.iter().enumerate().filter(|(i, _)| i % k != fold).map(|(_, e)| e.clone()));
                let model = classifier::train(&train, Params::default());
                for (i, gold) in messages.iter().enumerate().filter(|(i, _)| i % k == fold) {
                    score(&mut report, gold, Some(&model))?;
                    alone += usize::from(model.predict(&own[i].0).0 == gold.intent);
                }
            }
            println!(
                "classifier alone    {:.4} ({alone}/{}) intent accuracy, {k}-fold",
                alone as f64 / messages.len().max(1) as f64,
                messages.len()
            );
        }
    }
    if errors {
        for m in &report.misses {
            println!("{:<8} {:<40} {}", m.id, m.what, m.text);
        }
        println!();
    }
    println!(
        "reading             {}",
        match mode {
            Mode::Shipped => "rules + shipped classifier".to_string(),
            Mode::RulesOnly => "rules alone".to_string(),
            Mode::ClassifierOnly => "shipped classifier alone".to_string(),
            Mode::CrossValidate(k) => format!("rules + classifier, {k}-fold cross-validation"),
        }
    );
    print!("{report}");
    let mut failed = Vec::new();
    if report.intent_accuracy() < t.min_intent_accuracy {
        failed.push(format!("intent accuracy {:.4} < {}", report.intent_accuracy(), t.min_intent_accuracy));
    }
    if report.entity_totals().f1() < t.min_entity_f1 {
        failed.push(format!("entity F1 {:.4} < {}", report.entity_totals().f1(), t.min_entity_f1));
    }
    if report.emergency_recall() < t.min_emergency_recall {
        failed.push(format!("emergency recall {:.4} < {}", report.emergency_recall(), t.min_emergency_recall));
    }
    if let Some(max) = t.max_false_alarms_per_200
        && report.false_alarms_per_200() > max
    {
        failed.push(format!("false alarms {:.2} per 200 > {max}", report.false_alarms_per_200()));
    }
    if !failed.is_empty() {
        anyhow::bail!("below the thresholds: {}", failed.join("; "));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The model the binary ships is exactly what the training command makes
    /// from the training sets: nobody tuned it by hand or trained it on a
    /// held-out file.
    #[test]
    fn the_shipped_intent_model_is_what_train_intent_makes_from_the_training_sets() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let trained = classifier::train(&training_examples(root, None).unwrap(), Params::default()).to_bytes();
        let shipped = std::fs::read(root.join(SHIPPED_MODEL_PATH)).unwrap();
        assert!(trained == shipped, "src/understanding/intent-model.bin is stale: run `nuru train-intent`");
    }
}
