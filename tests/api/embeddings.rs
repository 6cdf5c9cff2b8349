//! Retrieval with an embedding model: a local server speaking the OpenAI and
//! Ollama embedding wire formats stands in for the model (it records what it
//! received); with `NURU_TEST_EMBEDDING_URL` set (CI: a real MiniLM model
//! behind `.ci/embedding-server.py`), the labelled questions are scored with
//! real vectors too.

use crate::helpers::*;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use nuru::config::{Config, ModelBackendKind};
use nuru::model::embed::Embedder;
use nuru::retrieval::{NewFile, add_document};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

const DIMS: usize = 24;

/// Words the stand-in model puts in one place, as a real model puts
/// paraphrases and translations close together.
const SENSES: &[&[&str]] =
    &[&["voiture", "car", "vehicules", "vehicles", "garer", "stationnent", "park"], &["jeun", "fasting", "breakfast", "manger", "eat"]];

#[derive(Default)]
pub(crate) struct StandIn {
    received: Mutex<Vec<String>>,
    down: AtomicBool,
}

fn fold(word: &str) -> String {
    word.to_lowercase()
        .chars()
        .map(|c| match c {
            'é' | 'è' | 'ê' => 'e',
            'à' | 'â' => 'a',
            c => c,
        })
        .filter(|c| c.is_alphanumeric())
        .collect()
}

/// A small deterministic "model": each word adds to one dimension (its sense
/// if it has one, else a hash of it).
fn vector(text: &str) -> Vec<f32> {
    let mut v = vec![0f32; DIMS];
    for word in text.split_whitespace().map(fold).filter(|w| w.len() > 2) {
        let dim = match SENSES.iter().position(|s| s.contains(&word.as_str())) {
            Some(sense) => sense,
            None => SENSES.len() + word.bytes().fold(7usize, |h, b| h.wrapping_mul(31).wrapping_add(b as usize)) % (DIMS - SENSES.len()),
        };
        v[dim] += if dim < SENSES.len() { 4.0 } else { 1.0 };
    }
    v
}

fn inputs(body: &serde_json::Value) -> Vec<String> {
    match &body["input"] {
        serde_json::Value::String(s) => vec![s.clone()],
        serde_json::Value::Array(a) => a.iter().filter_map(|x| x.as_str().map(String::from)).collect(),
        _ => Vec::new(),
    }
}

async fn openai(State(s): State<Arc<StandIn>>, Json(body): Json<serde_json::Value>) -> (StatusCode, Json<serde_json::Value>) {
    if s.down.load(Ordering::SeqCst) {
        return (StatusCode::INTERNAL_SERVER_ERROR, Json(serde_json::json!({"error": {"message": "model not loaded"}})));
    }
    let texts = inputs(&body);
    s.received.lock().unwrap().extend(texts.clone());
    let data: Vec<_> =
        texts.iter().enumerate().map(|(i, t)| serde_json::json!({"object": "embedding", "index": i, "embedding": vector(t)})).collect();
    (
        StatusCode::OK,
        Json(serde_json::json!({"object": "list", "data": data, "model": body["model"], "usage": {"prompt_tokens": 1, "total_tokens": 1}})),
    )
}

async fn ollama(State(s): State<Arc<StandIn>>, Json(body): Json<serde_json::Value>) -> (StatusCode, Json<serde_json::Value>) {
    if s.down.load(Ordering::SeqCst) {
        return (StatusCode::INTERNAL_SERVER_ERROR, Json(serde_json::json!({"error": "model not loaded"})));
    }
    let texts = inputs(&body);
    s.received.lock().unwrap().extend(texts.clone());
    let embeddings: Vec<_> = texts.iter().map(|t| vector(t)).collect();
    (StatusCode::OK, Json(serde_json::json!({"model": body["model"], "embeddings": embeddings})))
}

pub(crate) async fn stand_in() -> (Arc<StandIn>, String) {
    let state = Arc::new(StandIn::default());
    let app = axum::Router::new().route("/v1/embeddings", post(openai)).route("/api/embed", post(ollama)).with_state(state.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (state, url)
}

pub(crate) fn configure(c: &mut Config, backend: ModelBackendKind, base: &str, hosted: bool) {
    c.embedding_backend = backend;
    c.embedding_base_url = match backend {
        ModelBackendKind::Openai => format!("{base}/v1"),
        _ => base.to_string(),
    };
    c.embedding_model = "stand-in".into();
    c.embedding_timeout_ms = 5_000;
    c.embedding_hosted = hosted;
}

async fn add(
    app: &TestApp,
    embedder: &std::sync::Arc<Embedder>,
    patient: Option<nuru::domain::PatientId>,
    name: &str,
    text: &str,
) -> usize {
    let file = NewFile {
        clinic: app.clinic.clinic.id,
        patient,
        file_name: name,
        content_type: None,
        bytes: text.as_bytes(),
        source: "cli",
        actor: None,
    };
    let library = nuru::retrieval::Library::with_embedder(Some(embedder.clone()), 1.0);
    let (id, _) = add_document(&app.store, &library, &file, None, app.clock.now()).await.unwrap();
    let with_vectors = app.store.passages(app.clinic.clinic.id).await.unwrap();
    with_vectors.iter().filter(|p| p.document == id && p.vector.is_some()).count()
}

const PARKING: &str = "Les véhicules des visiteurs stationnent gratuitement derrière le bâtiment principal.";

/// A question that shares no word with the passage that answers it is
/// answered through the vectors, on both wire formats.
#[tokio::test]
async fn a_question_with_none_of_the_documents_words_is_answered_through_the_embeddings() {
    for backend in [ModelBackendKind::Openai, ModelBackendKind::Ollama] {
        let (model, base) = stand_in().await;
        let app = spawn_app_with(|c| configure(c, backend, &base, false)).await;
        let mut config = Config::default();
        configure(&mut config, backend, &base, false);
        let embedder = std::sync::Arc::new(Embedder::from_config(&config).unwrap().unwrap());
        assert_eq!(add(&app, &embedder, None, "acces.txt", PARKING).await, 1, "{backend:?}: the passage stored with its vector");
        assert!(model.received.lock().unwrap().iter().any(|t| t.contains("stationnent gratuitement")), "the passage was embedded");
        let r = app.say("+243990000071", "Is there room for my car?").await.join("\n");
        assert!(r.contains("stationnent gratuitement"), "{backend:?}: {r}");
        assert!(model.received.lock().unwrap().iter().any(|t| t == "Is there room for my car?"), "the question was embedded");
    }
}

/// The model is an improvement, never a dependency: while it fails, a
/// document is stored without vectors and questions are answered by words.
#[tokio::test]
async fn while_the_embedding_model_fails_documents_are_stored_and_found_by_their_words() {
    let (model, base) = stand_in().await;
    let app = spawn_app_with(|c| configure(c, ModelBackendKind::Openai, &base, false)).await;
    let mut config = Config::default();
    configure(&mut config, ModelBackendKind::Openai, &base, false);
    let embedder = std::sync::Arc::new(Embedder::from_config(&config).unwrap().unwrap());
    model.down.store(true, Ordering::SeqCst);
    assert_eq!(add(&app, &embedder, None, "parking.txt", "Le parking est gratuit pour les visiteurs, derrière le bâtiment.").await, 0);
    let r = app.say("+243990000072", "il y a un parking pour les visiteurs ?").await.join("\n");
    assert!(r.contains("parking est gratuit"), "{r}");
}

/// A model hosted outside the clinic never receives a patient's document nor
/// a question about one; the clinic's own documents it may embed.
#[tokio::test]
async fn a_hosted_embedding_model_never_receives_a_patients_document() {
    let (model, base) = stand_in().await;
    let app = spawn_app_with(|c| configure(c, ModelBackendKind::Openai, &base, true)).await;
    let mut config = Config::default();
    configure(&mut config, ModelBackendKind::Openai, &base, true);
    let embedder = std::sync::Arc::new(Embedder::from_config(&config).unwrap().unwrap());
    let patient = app.add_patient("Awa", "Mendy", Some((1990, 5, 15)), &["+243990000073"]).await;
    assert_eq!(
        add(&app, &embedder, Some(patient), "resultats-nfs.txt", "Résultats NFS. Hémoglobine : 11,2 g/dL. Plaquettes : 240 000 /mm3.")
            .await,
        0
    );
    assert_eq!(add(&app, &embedder, None, "acces.txt", PARKING).await, 1);
    let r = app.say("+243990000073", "mes résultats de la NFS sont arrivés ?").await.join("\n");
    assert!(r.contains("date de naissance"), "{r}");
    let r = app.say("+243990000073", "15/05/1990").await.join("\n");
    assert!(r.contains("11,2 g/dL"), "found by its words: {r}");
    let received = model.received.lock().unwrap().join("\n");
    assert!(!received.contains("Hémoglobine") && !received.contains("11,2"), "the file never left: {received}");
    assert!(!received.contains("NFS"), "nor the file or the question about it: {received}");
    assert!(received.contains("stationnent"), "the clinic's own document was embedded");
}

/// A real embedding model (CI: all-MiniLM-L6-v2 from PyPI behind the OpenAI
/// wire format) scored on the labelled questions, fused with BM25. The
/// threshold is what this small English-only model reaches; the figures per
/// language are printed and recorded in docs/benchmarks.md.
#[test]
fn a_real_embedding_model_scores_on_the_labelled_questions() {
    let Ok(base) = std::env::var("NURU_TEST_EMBEDDING_URL") else {
        eprintln!("skipped: set NURU_TEST_EMBEDDING_URL to an OpenAI-compatible embeddings server (e.g. http://127.0.0.1:8090/v1)");
        return;
    };
    let set = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/retrieval");
    // The third set holds two scans: read by OCR first (measured 0.923 fused).
    for (file, min, ocr) in
        [("questions.jsonl", "0.85", false), ("questions-fresh.jsonl", "0.85", false), ("questions-fresh2.jsonl", "0.85", true)]
    {
        let path = format!("{set}/{file}");
        let mut args = vec!["eval-docs", "--embeddings", &path, "--min-recall-at-3", min];
        if ocr {
            args.push("--ocr");
        }
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_nuru"))
            .args(args)
            .env("NURU_OCR_COMMAND", "tesseract")
            .env("NURU_EMBEDDING_BACKEND", "openai")
            .env("NURU_EMBEDDING_BASE_URL", &base)
            .env("NURU_EMBEDDING_MODEL", std::env::var("NURU_TEST_EMBEDDING_MODEL").unwrap_or("all-minilm-l6-v2".into()))
            .env("NURU_EMBEDDING_TIMEOUT_MS", "120000")
            .output()
            .unwrap();
        let report = String::from_utf8_lossy(&out.stdout);
        let err = String::from_utf8_lossy(&out.stderr);
        println!("{file}\n{report}{err}");
        assert!(out.status.success(), "{file}: {report}\n{err}");
        assert!(err.contains("embedded") && report.contains("French") && report.contains("English"), "{report}\n{err}");
    }
}
