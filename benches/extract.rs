//! Understanding speed: messages per second through `nuru extract --jsonl`
//! (the CLI contract, pinned to one core with `taskset` when available), and
//! through `understanding::extract` in-process on one thread.
//!
//! `cargo bench --bench extract` (option: NURU_BENCH_MESSAGES, default 100,000).
//! Prints numbers; asserts only that every line was answered.

use std::io::{BufRead, Write};
use std::process::{Command, Stdio};
use std::time::Instant;

fn main() -> anyhow::Result<()> {
    let total: usize = std::env::var("NURU_BENCH_MESSAGES").ok().and_then(|v| v.parse().ok()).unwrap_or(100_000);
    let corpus = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/nlu-corpus.jsonl"))?;
    let messages: Vec<serde_json::Value> =
        corpus.lines().filter(|l| !l.trim().is_empty()).map(serde_json::from_str).collect::<Result<_, _>>()?;
    let lines: Vec<String> = (0..total)
        .map(|i| {
            let m = &messages[i % messages.len()];
            serde_json::json!({"id": i, "text": m["text"], "now": m["now"], "tz": m["tz"]}).to_string()
        })
        .collect();
    let input = lines.join("\n") + "\n";

    let pinned = Command::new("taskset").arg("--version").output().is_ok();
    let mut cmd = if pinned {
        let mut c = Command::new("taskset");
        c.args(["-c", "0", env!("CARGO_BIN_EXE_nuru")]);
        c
    } else {
        Command::new(env!("CARGO_BIN_EXE_nuru"))
    };
    let started = Instant::now();
    let mut child = cmd.args(["extract", "--jsonl"]).stdin(Stdio::piped()).stdout(Stdio::piped()).spawn()?;
    let mut stdin = child.stdin.take().expect("stdin");
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let answered = std::io::BufReader::new(child.stdout.take().expect("stdout")).lines().count();
    writer.join().expect("writer")?;
    child.wait()?;
    let elapsed = started.elapsed().as_secs_f64();
    assert_eq!(answered, total, "one answer per line");
    println!("== nuru extract --jsonl ({})", if pinned { "pinned to one core with taskset" } else { "not pinned: taskset missing" });
    println!("messages      {total}");
    println!("throughput    {:.0} messages/s", total as f64 / elapsed);
    println!("per message   {:.1} µs", elapsed * 1e6 / total as f64);

    // In-process, one thread: the extractor alone, without JSON in and out.
    let texts: Vec<(String, chrono::NaiveDateTime)> = messages
        .iter()
        .map(|m| {
            let now = chrono::NaiveDateTime::parse_from_str(m["now"].as_str().unwrap_or_default(), "%Y-%m-%dT%H:%M:%S").unwrap_or_default();
            (m["text"].as_str().unwrap_or_default().to_string(), now)
        })
        .collect();
    let started = Instant::now();
    let mut intents = 0usize;
    for i in 0..total {
        let (text, now) = &texts[i % texts.len()];
        intents += std::hint::black_box(nuru::understanding::extract(text, *now, None)).entities.date.is_some() as usize;
    }
    let elapsed = started.elapsed().as_secs_f64();
    println!("== understanding::extract in-process, one thread");
    println!("throughput    {:.0} messages/s ({intents} with a date)", total as f64 / elapsed);
    println!("per message   {:.1} µs", elapsed * 1e6 / total as f64);

    // The same without the classifier: what the learned part costs.
    let started = Instant::now();
    for i in 0..total {
        let (text, now) = &texts[i % texts.len()];
        std::hint::black_box(nuru::understanding::extract_with(text, *now, None, None));
    }
    let rules = started.elapsed().as_secs_f64();
    println!("== the rules alone (extract_with, no classifier), in-process, one thread");
    println!("throughput    {:.0} messages/s", total as f64 / rules);
    println!("per message   {:.1} µs", rules * 1e6 / total as f64);

    // The classifier alone on the texts it reads.
    let padded: Vec<String> = texts.iter().map(|(t, _)| nuru::understanding::classifier_text(t)).collect();
    let model = &*nuru::understanding::SHIPPED_MODEL;
    let started = Instant::now();
    for i in 0..total {
        std::hint::black_box(model.probabilities(&padded[i % padded.len()]));
    }
    let alone = started.elapsed().as_secs_f64();
    println!("== the intent classifier alone, one thread");
    println!("throughput    {:.0} messages/s", total as f64 / alone);
    println!("per message   {:.1} µs", alone * 1e6 / total as f64);
    Ok(())
}
