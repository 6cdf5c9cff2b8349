//! Retrieval from documents, from outside: the `docs search` and `eval-docs`
//! commands on the labelled set in `fixtures/retrieval`.

use std::io::Write;
use std::process::{Command, Stdio};

fn nuru() -> Command {
    Command::new(env!("CARGO_BIN_EXE_nuru"))
}

const SET: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/retrieval");

/// The project's thresholds on its own labelled questions, and on the batch
/// written afterwards without looking at what retrieval returned.
#[test]
fn retrieval_meets_its_thresholds_on_the_labelled_questions() {
    for (file, min) in [("questions.jsonl", "0.95"), ("questions-fresh.jsonl", "0.90")] {
        let path = format!("{SET}/{file}");
        let n = std::fs::read_to_string(&path).unwrap().lines().filter(|l| !l.trim().is_empty()).count();
        let out = nuru().args(["eval-docs", &path, "--min-recall-at-3", min]).output().unwrap();
        let report = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{file}: {report}\n{}", String::from_utf8_lossy(&out.stderr));
        assert!(
            report.contains("recall@1") && report.contains("MRR") && report.contains("French") && report.contains("English"),
            "{report}"
        );
        if file == "questions.jsonl" {
            assert!(n >= 80, "at least 80 labelled questions ({n})");
            let docs = report.split_whitespace().next().unwrap().parse::<usize>().unwrap();
            assert!(docs >= 15, "at least 15 documents indexed ({docs})");
        }
    }
}

#[test]
fn eval_docs_fails_below_its_threshold() {
    let out = nuru().args(["eval-docs", &format!("{SET}/questions.jsonl"), "--min-recall-at-3", "1.01"]).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("recall@3"), "{}", String::from_utf8_lossy(&out.stderr));
}

fn search(lines: &[&str]) -> (Vec<serde_json::Value>, String) {
    let mut child = nuru()
        .args(["docs", "search", "--dir", &format!("{SET}/documents"), "--k", "3", "--jsonl"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    for l in lines {
        writeln!(stdin, "{l}").unwrap();
    }
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let results = String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    (results, String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn docs_search_answers_in_order_names_pages_and_flags_the_scan() {
    let (results, stderr) = search(&[
        r#"{"id":"a","question":"c'est combien l'échographie pelvienne ?"}"#,
        r#"{"id":"b","question":"do I need to fast before a blood test"}"#,
    ]);
    assert_eq!(results.len(), 2);
    assert_eq!(results[0]["id"], "a");
    let first = &results[0]["results"][0];
    assert_eq!(first["document"], "tarifs-2026.pdf");
    assert_eq!(first["page"], 1);
    assert!(first["text"].as_str().unwrap().contains("35 000 CDF"));
    assert!(first["score"].as_f64().unwrap() > 0.0);
    assert_eq!(results[1]["results"][0]["document"], "preparation-examens.md");
    assert!(results[1]["results"][0]["page"].is_null());
    assert!(results[0]["results"].as_array().unwrap().len() <= 3);
    assert!(stderr.contains("ordonnance-scannee.pdf") && stderr.contains("OCR"), "{stderr}");
}

#[test]
fn a_patients_documents_reach_only_that_patient() {
    let (results, _) = search(&[
        r#"{"id":"own","question":"quel est mon taux d'hémoglobine","patient":"P001"}"#,
        r#"{"id":"none","question":"quel est mon taux d'hémoglobine"}"#,
        r#"{"id":"other","question":"quel est mon taux d'hémoglobine","patient":"P002"}"#,
    ]);
    let docs = |i: usize| -> Vec<String> {
        results[i]["results"].as_array().unwrap().iter().map(|r| r["document"].as_str().unwrap().to_string()).collect()
    };
    assert_eq!(docs(0).first().map(String::as_str), Some("patients/P001/resultats-nfs.txt"));
    assert!(docs(1).iter().all(|d| !d.starts_with("patients/")), "{:?}", docs(1));
    assert!(docs(2).iter().all(|d| !d.starts_with("patients/P001/")), "{:?}", docs(2));
}
