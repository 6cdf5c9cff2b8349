use std::io::Write;
use std::process::{Command, Stdio};

fn nuru() -> Command {
    Command::new(env!("CARGO_BIN_EXE_nuru"))
}

#[test]
fn extract_prints_the_conventions_json() {
    let out = nuru()
        .args([
            "extract",
            "--now",
            "2026-11-23T09:15:00",
            "--tz",
            "Africa/Kinshasa",
            "Bonjour, je voudrais un rdv demain à 10h avec le Dr Kabeya",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["intent"], "BOOK_APPOINTMENT");
    assert_eq!(v["language"], "fr");
    assert_eq!(v["entities"]["date"], "2026-11-24");
    assert_eq!(v["entities"]["time"], "10:00");
    assert_eq!(v["entities"]["practitioner"], "Kabeya");
    assert!(v["entities"].get("email").is_none(), "absent entities are omitted");
}

#[test]
fn extract_jsonl_answers_line_by_line_in_order() {
    let mut child = nuru().args(["extract", "--jsonl"]).stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().unwrap();
    let input = [
        r#"{"id": "a", "text": "lundi prochain à midi", "now": "2026-11-23T09:15:00", "tz": "Africa/Kinshasa"}"#,
        r#"{"id": 2, "text": "3", "now": "2026-11-23T09:15:00", "tz": "Europe/Paris"}"#,
        r#"{"id": "c", "text": "chest pain, can't breathe", "now": "2026-11-23T09:15:00", "tz": "Africa/Douala"}"#,
    ];
    child.stdin.take().unwrap().write_all(input.join("\n").as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let lines: Vec<serde_json::Value> = String::from_utf8(out.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[0]["id"], "a");
    assert_eq!(lines[0]["entities"]["date"], "2026-11-30", "on a Monday, lundi prochain is +7");
    assert_eq!(lines[0]["entities"]["time"], "12:00");
    assert_eq!(lines[1]["id"], 2);
    assert_eq!(lines[1]["entities"]["choice"], 3);
    assert_eq!(lines[2]["intent"], "EMERGENCY");
    assert_eq!(lines[2]["language"], "en");
}

#[test]
fn chat_books_with_the_demo_clinic() {
    let mut child = nuru().arg("chat").stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let turns = "Bonjour, je voudrais un rdv demain matin pour une consultation\n1\nAwa Mendy\n15/05/1990\noui\n";
    child.stdin.take().unwrap().write_all(turns.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("1."), "proposals: {stdout}");
    assert!(stdout.contains("C'est réservé"), "booked: {stdout}");
}

#[test]
fn bad_configuration_is_refused_with_the_key_named() {
    let out = nuru().arg("migrate").env("NURU_PUBLIC_BASE_URL", "not a url").output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("public_base_url"));
}

/// The project's own thresholds on its labelled corpus (fixtures/nlu-corpus.jsonl):
/// CI fails when the extractor falls below them.
#[test]
fn the_extractor_meets_its_thresholds_on_the_corpus() {
    let corpus = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/nlu-corpus.jsonl");
    let lines = std::fs::read_to_string(corpus).unwrap().lines().filter(|l| !l.trim().is_empty()).count();
    assert!(lines >= 700, "the corpus holds at least 700 messages ({lines})");
    let out = nuru()
        .args([
            "eval-nlu",
            corpus,
            "--min-intent-accuracy",
            "0.98",
            "--min-entity-f1",
            "0.97",
            "--min-emergency-recall",
            "1.0",
            "--max-false-alarms-per-200",
            "1",
        ])
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{report}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(report.contains("intent accuracy") && report.contains("appointment_type"), "{report}");
}

#[test]
fn eval_nlu_fails_below_a_threshold_and_names_it() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tiny.jsonl");
    std::fs::write(
        &file,
        r#"{"id":"x","text":"bonjour","now":"2026-11-23T09:15:00","tz":"Africa/Kinshasa","intent":"BOOK_APPOINTMENT","language":"fr","entities":{}}"#,
    )
    .unwrap();
    let out = nuru().args(["eval-nlu", file.to_str().unwrap(), "--min-intent-accuracy", "0.5"]).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("intent accuracy 0.0000 < 0.5"));
}

/// Cross-validation: each fold of the corpus scored by a classifier trained
/// without it; the classifier alone and with the rules are both reported.
#[test]
fn eval_nlu_cross_validates_on_a_training_set_and_refuses_a_held_out_one() {
    let root = env!("CARGO_MANIFEST_DIR");
    let out = nuru()
        .current_dir(root)
        .args(["eval-nlu", "--cv", "5", "fixtures/nlu-corpus.jsonl", "--min-intent-accuracy", "0.97", "--min-emergency-recall", "1.0"])
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{report}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(report.contains("5-fold cross-validation") && report.contains("classifier alone"), "{report}");
    let out = nuru().current_dir(root).args(["eval-nlu", "--cv", "5", "fixtures/nlu-fresh3.jsonl"]).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not a training set"), "{}", String::from_utf8_lossy(&out.stderr));
}

/// The batches never trained on keep the level they were measured at
/// (docs/understanding.md): every emergency found, no false alarm.
#[test]
fn the_held_out_batches_keep_their_measured_level() {
    let root = env!("CARGO_MANIFEST_DIR");
    for (file, min) in [
        ("fixtures/nlu-fresh1-heldout.jsonl", "0.86"),
        ("fixtures/nlu-fresh2-heldout.jsonl", "0.97"),
        ("fixtures/nlu-fresh3.jsonl", "0.85"),
        ("fixtures/nlu-heldout-signs.jsonl", "0.90"),
        ("fixtures/nlu-probe-untuned.jsonl", "0.75"),
    ] {
        let out = nuru()
            .current_dir(root)
            .args(["eval-nlu", file, "--min-intent-accuracy", min, "--min-emergency-recall", "1.0", "--max-false-alarms-per-200", "0"])
            .output()
            .unwrap();
        assert!(out.status.success(), "{file}: {}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// `nuru demo` in a scratch folder on a free port; stopped when dropped.
struct Demo(std::process::Child);

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn demo(dir: &std::path::Path, port: u16) -> (Demo, String) {
    let mut child = nuru()
        .arg("demo")
        .current_dir(dir)
        .env("NURU_LISTEN_ADDR", format!("127.0.0.1:{port}"))
        .env("NURU_DATABASE_URL", format!("sqlite://{}", dir.join("demo.db").display()))
        .env("NURU_SECRET_KEY_FILE", dir.join("nuru.key"))
        .env("NURU_LOG_LEVEL", "warn")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(stderr));
    let mut seen = String::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        seen.push_str(&line);
        seen.push('\n');
        if line.starts_with("Admin API") {
            break;
        }
    }
    std::thread::spawn(move || for _ in lines {});
    (Demo(child), seen)
}

fn healthcheck(port: u16) -> bool {
    nuru().arg("healthcheck").env("NURU_LISTEN_ADDR", format!("0.0.0.0:{port}")).status().unwrap().success()
}

#[test]
fn demo_prints_where_it_listens_keeps_api_changes_on_restart_and_answers_the_healthcheck() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let (first, said) = demo(dir.path(), port);
    assert!(said.contains(&format!("Listening on http://127.0.0.1:{port}")), "{said}");
    assert!(healthcheck(port), "the healthcheck passes while the service runs");
    drop(first);
    assert!(!healthcheck(port), "and fails once it stopped");

    // A change made while stopped (as the admin API would) survives a restart.
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let store = nuru::storage::Store::connect(&format!("sqlite://{}", dir.path().join("demo.db").display()), None).await.unwrap();
        let mut clinic = store.clinic_by_slug("demo").await.unwrap().unwrap();
        clinic.name = "Clinique renommée".into();
        store
            .update_clinic_settings(
                &clinic,
                &nuru::storage::NewAuditEvent {
                    actor: None,
                    clinic: Some(clinic.id),
                    action: "update",
                    resource: "clinic",
                    resource_id: None,
                    outcome: "ok",
                },
                chrono::Utc::now(),
            )
            .await
            .unwrap();
        store.close().await;
    });
    let (_second, said) = demo(dir.path(), port);
    assert!(said.contains("Clinique renommée") && said.contains("kept as it is"), "{said}");
}

#[test]
fn configuration_errors_name_the_setting() {
    let out = nuru().args(["serve"]).env("NURU_JWT_SECRET", "short").env("NURU_DATABASE_URL", "sqlite::memory:").output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("NURU_JWT_SECRET"), "{}", String::from_utf8_lossy(&out.stderr));
    let out = nuru().args(["migrate"]).env("NURU_DATABASE_URL", "postgres://nuru:secret@127.0.0.1:1/nuru").output().unwrap();
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("cannot reach the database 127.0.0.1:1/nuru") && !said.contains("secret"), "{said}");
}

/// `nuru demo` with the public URL the test signs for.
fn demo_signed(dir: &std::path::Path, port: u16) -> Demo {
    let child = nuru()
        .arg("demo")
        .current_dir(dir)
        .env("NURU_LISTEN_ADDR", format!("127.0.0.1:{port}"))
        .env("NURU_PUBLIC_BASE_URL", "https://nuru.example.org")
        .env("NURU_DATABASE_URL", format!("sqlite://{}", dir.join("demo.db").display()))
        .env("NURU_SECRET_KEY_FILE", dir.join("nuru.key"))
        .env("NURU_LOG_LEVEL", "warn")
        .stderr(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    // Dropping the guard kills and reaps the process if it never gets ready.
    let server = Demo(child);
    for _ in 0..200 {
        if healthcheck(port) {
            return server;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    panic!("nuru demo did not answer its health check");
}

fn queue_counts(db: &std::path::Path) -> (i64, i64, i64) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        use sqlx::Row;
        sqlx::any::install_default_drivers();
        let pool = sqlx::AnyPool::connect(&format!("sqlite://{}", db.display())).await.unwrap();
        let row = sqlx::query(
            "SELECT (SELECT COUNT(*) FROM inbound_messages) AS stored, \
                    (SELECT COUNT(*) FROM inbound_messages WHERE processed_at IS NOT NULL) AS processed, \
                    (SELECT COUNT(DISTINCT inbound_id) FROM outbound_messages) AS answered",
        )
        .fetch_one(&pool)
        .await
        .unwrap();
        let counts = (row.get("stored"), row.get("processed"), row.get("answered"));
        pool.close().await;
        counts
    })
}

#[test]
fn sigterm_with_a_backlog_stops_promptly_loses_nothing_and_a_restart_continues() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut server = demo_signed(dir.path(), port);
    let url = format!("http://127.0.0.1:{port}/webhooks/twilio/demo");
    let total = 1000;
    nuru::install_crypto_provider();
    let acknowledged = tokio::runtime::Runtime::new().unwrap().block_on(async {
        let http = reqwest::Client::new();
        let next = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for _ in 0..8 {
            let (http, url, next) = (http.clone(), url.clone(), next.clone());
            tasks.push(tokio::spawn(async move {
                let mut ok = 0;
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    if i >= total {
                        return ok;
                    }
                    let fields: Vec<(String, String)> = [
                        ("MessageSid", format!("SM{i:032}")),
                        ("AccountSid", "ACdemo0000000000000000000000000000".to_string()),
                        ("From", format!("whatsapp:+2439{i:08}")),
                        ("To", "whatsapp:+14155238886".to_string()),
                        ("Body", "Bonjour, je voudrais un rdv demain matin pour une consultation".to_string()),
                    ]
                    .into_iter()
                    .map(|(k, v)| (k.to_string(), v))
                    .collect();
                    let sig = nuru::channels::twilio::compute_signature(
                        "https://nuru.example.org/webhooks/twilio/demo",
                        &fields,
                        "demo-auth-token",
                    );
                    let r = http.post(&url).header("x-twilio-signature", sig).form(&fields).send().await.unwrap();
                    assert_eq!(r.status(), 200);
                    ok += 1;
                }
            }));
        }
        let mut ok = 0;
        for t in tasks {
            ok += t.await.unwrap();
        }
        ok
    });
    assert_eq!(acknowledged, total);

    // SIGTERM while the worker still has a backlog.
    let stopped_at = std::time::Instant::now();
    assert!(Command::new("kill").arg("-TERM").arg(server.0.id().to_string()).status().unwrap().success());
    let status = loop {
        if let Some(status) = server.0.try_wait().unwrap() {
            break status;
        }
        assert!(stopped_at.elapsed() < std::time::Duration::from_secs(15), "still running 15 s after SIGTERM");
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    assert!(status.success(), "a stop on SIGTERM is a clean exit: {status:?}");
    let (stored, processed, answered) = queue_counts(&dir.path().join("demo.db"));
    assert_eq!(stored, total as i64, "every acknowledged message is stored");
    assert_eq!(processed, answered, "each processed message has its replies, and no other has any");
    assert!(processed < stored, "the stop waited for the whole backlog instead of leaving it queued ({processed} of {stored} processed)");

    // A restart drains the rest, each message once.
    let _again = demo_signed(dir.path(), port);
    let started = std::time::Instant::now();
    loop {
        let (stored, processed, answered) = queue_counts(&dir.path().join("demo.db"));
        assert_eq!(processed, answered);
        if processed == stored {
            break;
        }
        assert!(started.elapsed() < std::time::Duration::from_secs(120), "the backlog is not drained: {processed} of {stored}");
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}
