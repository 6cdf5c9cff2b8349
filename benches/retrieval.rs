//! Retrieval on the embedded default (no model, no server): ingestion
//! (PDF text extraction + passages) in pages/s, and search latency p50/p99
//! over 1,000 and 100,000 passages of one clinic, with the index's memory;
//! then the same with 384-dimension vectors on every passage (the size of
//! all-MiniLM-L6-v2's), fused with BM25 — the search only, the question's
//! vector given (an embedding model's own latency is its server's).
//! `cargo bench --bench retrieval`. Prints numbers; asserts nothing timed.

use nuru::documents::{Format, Index, Passage, chunk, extract};
use std::time::{Duration, Instant};

const DOCS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/retrieval/documents");

fn rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmRSS:")).and_then(|l| l.split_whitespace().nth(1)?.parse().ok()))
        .unwrap_or(0)
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize].as_secs_f64() * 1e3
}

/// Every fixture passage's text: the vocabulary real passages are made of.
fn fixture_passages() -> Vec<String> {
    let folder = nuru::documents::folder::load(std::path::Path::new(DOCS)).unwrap();
    let questions = std::fs::read_to_string(format!("{DOCS}/../questions.jsonl")).unwrap();
    let mut texts: Vec<String> = questions
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["question"].as_str().unwrap().to_string())
        .collect();
    for q in texts.clone() {
        for h in folder.index.search(&q, &[], 10) {
            texts.push(h.passage.text.clone());
        }
    }
    texts.sort();
    texts.dedup();
    texts
}

fn main() {
    println!("== retrieval, embedded default (BM25 in memory), release build");
    // Ingestion: the fixture PDFs (two producers) and text files, over and over.
    let files: Vec<(Format, Vec<u8>)> =
        ["tarifs-2026.pdf", "getting-here.pdf", "patients/P001/compte-rendu-echographie.pdf", "preparation-examens.md", "laboratoire.txt"]
            .iter()
            .map(|f| (Format::detect(None, f).unwrap(), std::fs::read(format!("{DOCS}/{f}")).unwrap()))
            .collect();
    let (mut pages, mut pdf_pages, mut passages) = (0usize, 0usize, 0usize);
    let start = Instant::now();
    let mut pdf_time = Duration::ZERO;
    while start.elapsed() < Duration::from_secs(3) {
        for (format, bytes) in &files {
            let t = Instant::now();
            let e = extract(*format, bytes).unwrap();
            passages += chunk(&e, *format).len();
            pages += e.pages.len();
            if *format == Format::Pdf {
                pdf_pages += e.pages.len();
                pdf_time += t.elapsed();
            }
        }
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "ingestion: {:.0} pages/s overall ({pages} pages, {passages} passages in {secs:.1} s); PDF pages alone {:.0}/s",
        pages as f64 / secs,
        pdf_pages as f64 / pdf_time.as_secs_f64()
    );

    // Search: passages recombined from the fixtures' sentences, 1,000 and 100,000 in one clinic.
    let base = fixture_passages();
    let sentences: Vec<&str> = base.iter().flat_map(|t| t.split(['.', '\n', ';'])).map(str::trim).filter(|s| s.len() > 10).collect();
    let questions: Vec<String> = std::fs::read_to_string(format!("{DOCS}/../questions.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["question"].as_str().unwrap().to_string())
        .collect();
    for (n, dims) in [(1_000usize, 0usize), (100_000, 0), (1_000, 384), (100_000, 384)] {
        let before = rss_kb();
        let built = Instant::now();
        let mut ix = Index::new();
        let mut seed = 0x9e3779b97f4a7c15u64;
        for i in 0..n {
            let mut text = String::new();
            for _ in 0..4 {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                text.push_str(sentences[(seed % sentences.len() as u64) as usize]);
                text.push_str(". ");
            }
            let patient = (i % 10 == 0).then(|| format!("P{}", i % 500));
            let vector = (dims > 0).then(|| {
                (0..dims)
                    .map(|_| {
                        seed ^= seed << 13;
                        seed ^= seed >> 7;
                        seed ^= seed << 17;
                        (seed % 2000) as f32 / 1000.0 - 1.0
                    })
                    .collect::<Vec<f32>>()
            });
            ix.add_with_vector(
                Passage {
                    document: format!("doc-{}", i / 8),
                    title: format!("document {}", i / 8),
                    language: None,
                    patient,
                    page: Some(1),
                    heading: None,
                    text,
                    ocr_confidence: None,
                },
                vector,
            );
        }
        let build = built.elapsed();
        let memory = rss_kb().saturating_sub(before);
        let mut times = Vec::new();
        for round in 0..5 {
            for (k, q) in questions.iter().enumerate() {
                let who = format!("P{}", (k + round) % 500);
                let asked: Option<Vec<f32>> = (dims > 0).then(|| (0..dims).map(|d| ((d * 7 + k) % 13) as f32 - 6.0).collect());
                let t = Instant::now();
                std::hint::black_box(ix.search_with(q, asked.as_deref(), &[who.as_str()], 3));
                times.push(t.elapsed());
            }
        }
        times.sort();
        println!(
            "search over {n:>7} passages{}: p50 {:.3} ms  p99 {:.3} ms  max {:.3} ms ({} queries); index built in {:.2} s, RSS +{:.1} MB",
            if dims > 0 { format!(" with {dims}-d vectors, fused") } else { String::new() },
            percentile(&times, 0.5),
            percentile(&times, 0.99),
            times.last().unwrap().as_secs_f64() * 1e3,
            times.len(),
            build.as_secs_f64(),
            memory as f64 / 1024.0
        );
    }
}
