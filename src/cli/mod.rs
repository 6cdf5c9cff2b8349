//! The `nuru` command line. Thin: every command calls into the library.

mod jobs;
mod nlu;

use crate::clinic_file::{ClinicFile, DEMO_CLINIC};
use crate::clock::Clock;
use crate::config::Config;
use crate::domain::{Channel, PhoneNumber};
use crate::startup::{Application, BuildOptions};
use crate::storage::Store;
use crate::understanding;
use anyhow::Context;
use chrono::{DateTime, NaiveDateTime, Utc};
use chrono_tz::Tz;
use clap::{Parser, Subcommand};
use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "nuru", version, about = "A clinic's WhatsApp and SMS secretary")]
struct Cli {
    /// Configuration file (default: ./nuru.toml if present).
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the HTTP service (webhooks) and its workers.
    Serve,
    /// Run the service with the demo clinic; replies are stored and logged, not sent.
    Demo,
    /// Talk to the demo clinic in the terminal, as a patient. No server, no network.
    Chat {
        /// Your phone number as the clinic sees it.
        #[arg(long, default_value = "+243990000001")]
        phone: String,
        /// Clinic file to chat with (default: the demo clinic).
        #[arg(long)]
        clinic: Option<PathBuf>,
        /// A document of the clinic to answer from (PDF, .md, .txt); repeat for several.
        #[arg(long = "doc")]
        docs: Vec<PathBuf>,
    },
    /// Understand one message (or JSON lines on stdin) and print JSON.
    Extract {
        /// Local wall-clock time in `--tz`, e.g. 2026-11-23T09:15:00 (default: now).
        #[arg(long)]
        now: Option<String>,
        /// IANA time zone of `--now`.
        #[arg(long, default_value = "Africa/Kinshasa")]
        tz: String,
        /// Read {"id","text","now","tz"} lines from stdin, write one result per line.
        #[arg(long)]
        jsonl: bool,
        /// Consult this model (with the backend and URL from the configuration)
        /// where the rules are unsure; by default the configured model, if any.
        #[arg(long)]
        model: Option<String>,
        text: Option<String>,
    },
    /// Score the extractor against a labelled corpus (JSON lines) and print
    /// intent, emergency and entity scores; exits 1 below the thresholds.
    EvalNlu {
        file: PathBuf,
        /// Print every disagreement.
        #[arg(long)]
        errors: bool,
        #[arg(long, default_value_t = 0.0)]
        min_intent_accuracy: f64,
        #[arg(long, default_value_t = 0.0)]
        min_entity_f1: f64,
        #[arg(long, default_value_t = 0.0)]
        min_emergency_recall: f64,
        /// At most this many false emergencies per 200 messages.
        #[arg(long)]
        max_false_alarms_per_200: Option<f64>,
        /// K-fold cross-validation on a training set: each fold is scored by
        /// a classifier trained without it.
        #[arg(long, conflicts_with = "rules_only")]
        cv: Option<usize>,
        /// Score the rules alone, without the classifier.
        #[arg(long, conflicts_with = "classifier_only")]
        rules_only: bool,
        /// Score the shipped classifier's intent alone, without the rules.
        #[arg(long, conflicts_with = "cv")]
        classifier_only: bool,
    },
    /// Train the intent classifier from the training sets (run at the
    /// repository's root) and write the model the binary ships.
    TrainIntent {
        /// Where to write (default: src/understanding/intent-model.bin).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Google Calendar connections (support).
    Calendar {
        #[command(subcommand)]
        command: CalendarCommand,
    },
    /// Documents: search a folder as retrieval sees it.
    Docs {
        #[command(subcommand)]
        command: DocsCommand,
    },
    /// Score retrieval against labelled questions (JSON lines
    /// {"id","question","patient"?,"expected":[paths]}) over a folder of
    /// documents; prints recall@1, recall@3 and MRR; exits 1 below the threshold.
    EvalDocs {
        file: PathBuf,
        /// The documents (default: `documents/` next to FILE).
        #[arg(long)]
        dir: Option<PathBuf>,
        /// Print every question whose document is not in the top 3.
        #[arg(long)]
        errors: bool,
        #[arg(long, default_value_t = 0.0)]
        min_recall_at_3: f64,
        /// Also embed passages and questions with the configured embedding
        /// model (`NURU_EMBEDDING_BACKEND`, `_BASE_URL`, `_MODEL`) and fuse.
        #[arg(long)]
        embeddings: bool,
        /// Read the folder's scans and photos with the configured OCR program
        /// (`ocr_command`, default tesseract) before indexing.
        #[arg(long)]
        ocr: bool,
    },
    /// Run conversation scripts (*.toml) against the real engine and report;
    /// exits 1 if any fails.
    TestConversations {
        #[arg(default_value = "fixtures/conversations")]
        dir: PathBuf,
        /// Print every transcript, not only the failures'.
        #[arg(long)]
        verbose: bool,
    },
    /// Create or migrate the database, then exit.
    Migrate,
    /// Ask the running service's /health/ready (on listen_addr); exits 1 unless it
    /// answers 200 within 3 s. For container health checks.
    Healthcheck,
    /// Admin API accounts.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
    /// Clinic files.
    Clinic {
        #[command(subcommand)]
        command: ClinicCommand,
    },
    /// The leased queues: status, jobs given up on, reviving one.
    Jobs {
        #[command(subcommand)]
        command: jobs::JobsCommand,
    },
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Create the first superadmin. The password is read from NURU_ADMIN_PASSWORD, or the first line of stdin.
    CreateSuperadmin {
        #[arg(long)]
        email: String,
    },
    /// Give an account (created if new; password as above) a role in a clinic.
    AddMember {
        #[arg(long)]
        email: String,
        /// The clinic's slug.
        #[arg(long)]
        clinic: String,
        /// clinic_admin, staff or practitioner.
        #[arg(long)]
        role: String,
        /// For a practitioner account: the practitioner it is (its agenda is
        /// what the account sees).
        #[arg(long)]
        practitioner: Option<String>,
        /// Allow changing the role of someone already a member of the clinic.
        #[arg(long)]
        change_role: bool,
    },
}

#[derive(Subcommand)]
enum CalendarCommand {
    /// Reads a practitioner's Google Calendar busy time now (as the worker
    /// does) and prints what it read; then makes the calendar writes that are
    /// due (any practitioner's), as the worker would.
    Sync {
        /// The practitioner's id (from the admin API).
        #[arg(long)]
        practitioner: String,
    },
}

#[derive(Subcommand)]
enum DocsCommand {
    /// Add documents to a clinic (or to one patient's file) in the configured
    /// database: PDF, Markdown, plain text or a photo (stored for OCR); each is extracted, cut into
    /// passages and searchable at once. A PDF without a text layer is stored
    /// and reported as needing OCR.
    Add {
        /// The clinic's slug.
        #[arg(long)]
        clinic: String,
        /// The patient's id (from the admin API): the documents join that patient's file.
        #[arg(long)]
        patient: Option<String>,
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Index every PDF, .md and .txt file in DIR (files under `patients/<KEY>/`
    /// belong to patient KEY) in memory, then answer {"id","question","patient"?}
    /// lines from stdin with {"id","results":[{"document","page","text","score"}]}.
    Search {
        #[arg(long)]
        dir: PathBuf,
        #[arg(long, default_value_t = 3)]
        k: usize,
        /// Read questions as JSON lines (the only input form).
        #[arg(long)]
        jsonl: bool,
        /// Read the folder's scans and photos by OCR first.
        #[arg(long)]
        ocr: bool,
    },
}

#[derive(Subcommand)]
enum ClinicCommand {
    /// Create or update a clinic from a TOML file (see fixtures/demo-clinic.toml).
    Import { file: PathBuf },
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Extract { now, tz, jsonl, text, model } => extract(cli.config.as_deref(), now, &tz, jsonl, text, model),
        Command::EvalNlu {
            file,
            errors,
            min_intent_accuracy,
            min_entity_f1,
            min_emergency_recall,
            max_false_alarms_per_200,
            cv,
            rules_only,
            classifier_only,
        } => {
            let thresholds = nlu::Thresholds { min_intent_accuracy, min_entity_f1, min_emergency_recall, max_false_alarms_per_200 };
            let mode = match (cv, rules_only, classifier_only) {
                (Some(k), _, _) => nlu::Mode::CrossValidate(k),
                (None, true, _) => nlu::Mode::RulesOnly,
                (None, false, true) => nlu::Mode::ClassifierOnly,
                (None, false, false) => nlu::Mode::Shipped,
            };
            nlu::eval_nlu(&file, errors, &thresholds, mode)
        }
        Command::TrainIntent { out } => nlu::train_intent(&std::env::current_dir().unwrap_or_default(), out),
        Command::Docs { command: DocsCommand::Search { dir, k, jsonl, ocr } } => docs_search(cli.config.as_deref(), &dir, k, jsonl, ocr),
        Command::EvalDocs { file, dir, errors, min_recall_at_3, embeddings, ocr } => {
            eval_docs(cli.config.as_deref(), &file, dir, errors, min_recall_at_3, embeddings, ocr)
        }
        command => run_async(cli.config, command),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", error_chain(&e));
            ExitCode::FAILURE
        }
    }
}

/// An error and its causes, each said once: libraries often repeat their
/// source's message in their own ("database error: X: X").
fn error_chain(e: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if !out.contains(&text) {
            if !out.is_empty() {
                out.push_str(": ");
            }
            out.push_str(&text);
        }
    }
    out
}

fn run_async(config_path: Option<PathBuf>, command: Command) -> anyhow::Result<()> {
    let mut config = Config::load(config_path.as_deref())?;
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async move {
        match command {
            Command::Serve => {
                crate::telemetry::init(&config);
                let clock = crate::startup::clock(&config);
                Application::build(config, BuildOptions { clock, ..BuildOptions::default() }).await?.run_until_stopped().await
            }
            Command::Demo => {
                crate::telemetry::init(&config);
                let clock = crate::startup::clock(&config);
                let app = Application::build(config, BuildOptions { outbox_only: true, clock, ..BuildOptions::default() }).await?;
                let state = app.state().clone();
                // The demo clinic is imported once: on a restart, settings
                // changed through the admin API are kept.
                let slug = ClinicFile::parse(DEMO_CLINIC)?.clinic.slug;
                let catalog = match state.store.clinic_by_slug(&slug).await? {
                    Some(existing) => {
                        eprintln!("Demo clinic found in the database: kept as it is.");
                        state.store.catalog(existing.id).await?
                    }
                    None => ClinicFile::import(DEMO_CLINIC, &state.store, &state.cipher, state.clock.now()).await?,
                };
                let local = app.local_url();
                eprintln!("Listening on {local}");
                eprintln!(
                    "Demo clinic {:?}. Twilio webhook: {}/webhooks/twilio/{} (signatures are checked against this public URL; replies go to the local outbox, not to Twilio).",
                    catalog.clinic.name, state.config.public_base_url, catalog.clinic.slug
                );
                // Demo accounts with fresh passwords, printed once.
                let now = chrono::Utc::now();
                for (email, superadmin, role) in
                    [("superadmin@demo.nuru", true, None), ("admin@demo.nuru", false, Some(crate::storage::ClinicRole::ClinicAdmin))]
                {
                    let password = crate::secrets::random_token()[..16].to_string();
                    let id = match state.store.user_by_email(email).await? {
                        Some(u) => {
                            eprintln!("Demo account {email} exists already (password unchanged).");
                            u.id
                        }
                        None => {
                            let id = state.store.create_user(email, &crate::admin::auth::hash_password(&password), superadmin, now).await?;
                            eprintln!("Demo account: {email} / {password}");
                            id
                        }
                    };
                    if let Some(role) = role {
                        state
                            .store
                            .add_membership(
                                id,
                                &crate::storage::Membership { clinic_id: catalog.clinic.id, role, practitioner_id: None },
                                now,
                            )
                            .await?;
                    }
                }
                eprintln!("Admin API: {local}/api/docs/");
                app.run_until_stopped().await
            }
            Command::Chat { phone, clinic, docs } => {
                if std::env::var_os("RUST_LOG").is_none() {
                    config.log_level = "warn".into();
                }
                crate::telemetry::init(&config);
                let text = match clinic {
                    Some(path) => std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?,
                    None => DEMO_CLINIC.to_string(),
                };
                chat(&text, &phone, &docs).await
            }
            Command::TestConversations { dir, verbose } => {
                crate::install_crypto_provider();
                // With a model configured, the scripts run model-assisted and the calls are reported.
                let model = crate::model::ModelAssist::from_config(&config)?.map(std::sync::Arc::new);
                let outcomes = crate::harness::scripts::run_dir_with(&dir, model.clone()).await?;
                print!("{}", crate::harness::scripts::report(&outcomes, verbose));
                if let Some(m) = model {
                    let turns: usize = outcomes.iter().map(|o| o.transcript.len()).sum();
                    let s = m.metrics.snapshot();
                    println!(
                        "model ({}): {} calls for {turns} patient messages ({:.3} per message), max {} prompt tokens per call, outcomes {}",
                        m.backend_name(),
                        s.calls,
                        s.calls as f64 / turns.max(1) as f64,
                        s.max_prompt_tokens,
                        serde_json::to_string(&s).unwrap_or_default()
                    );
                }
                let failed = outcomes.iter().filter(|o| o.failure.is_some()).count();
                if failed > 0 {
                    anyhow::bail!("{failed} conversation script(s) failed");
                }
                Ok(())
            }
            Command::Admin { command } => {
                let store = Store::connect(&config.database_url, config.database_max_connections).await?;
                let now = chrono::Utc::now();
                let password = |email: &str| -> anyhow::Result<String> {
                    let p = match std::env::var("NURU_ADMIN_PASSWORD") {
                        Ok(p) => p,
                        Err(_) => std::io::stdin().lock().lines().next().transpose()?.unwrap_or_default(),
                    };
                    crate::admin::auth::check_password(&p, email).map_err(anyhow::Error::msg)?;
                    Ok(p)
                };
                match command {
                    AdminCommand::CreateSuperadmin { email } => {
                        let hash = crate::admin::auth::hash_password(&password(&email)?);
                        store.create_user(&email, &hash, true, now).await.context("creating the account")?;
                        eprintln!("superadmin {email} created");
                    }
                    AdminCommand::AddMember { email, clinic, role, practitioner, change_role } => {
                        let role = crate::storage::ClinicRole::parse(&role).context("role must be clinic_admin, staff or practitioner")?;
                        let clinic = store.clinic_by_slug(&clinic).await?.context("no clinic with that slug")?;
                        let practitioner_id = match practitioner {
                            Some(p) => {
                                anyhow::ensure!(role == crate::storage::ClinicRole::Practitioner, "--practitioner links a practitioner account only");
                                let id = crate::domain::PractitionerId::parse(&p).context("--practitioner must be a practitioner's id (a UUID)")?;
                                let catalog = store.catalog(clinic.id).await?;
                                anyhow::ensure!(catalog.practitioners.iter().any(|x| x.id == id), "{} has no practitioner with that id", clinic.slug);
                                Some(id)
                            }
                            None => None,
                        };
                        let id = match store.user_by_email(&email).await? {
                            Some(u) => {
                                let current = store.memberships(u.id).await?.into_iter().find(|m| m.clinic_id == clinic.id);
                                if let Some(current) = current.filter(|m| m.role != role && !change_role) {
                                    anyhow::bail!(
                                        "{email} is already {} of {}: add --change-role to make them {}",
                                        current.role.as_str(),
                                        clinic.slug,
                                        role.as_str()
                                    );
                                }
                                u.id
                            }
                            None => store.create_user(&email, &crate::admin::auth::hash_password(&password(&email)?), false, now).await?,
                        };
                        store.add_membership(id, &crate::storage::Membership { clinic_id: clinic.id, role, practitioner_id }, now).await?;
                        let audit = crate::storage::NewAuditEvent {
                            actor: None,
                            clinic: Some(clinic.id),
                            action: "add_member",
                            resource: "membership",
                            resource_id: Some(&id.to_string()),
                            outcome: "ok",
                        };
                        store.audit(&audit, now).await?;
                        let linked = practitioner_id.map(|p| format!(", linked to practitioner {p}")).unwrap_or_default();
                        eprintln!("{email} is {} of {}{linked}", role.as_str(), clinic.slug);
                    }
                }
                Ok(())
            }
            Command::Healthcheck => {
                let mut addr: std::net::SocketAddr = config.listen_addr.parse()?;
                if addr.ip().is_unspecified() {
                    addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
                }
                let url = format!("http://{addr}/health/ready");
                crate::install_crypto_provider();
                let client = reqwest::Client::builder().timeout(std::time::Duration::from_secs(3)).build()?;
                match client.get(&url).send().await {
                    Ok(r) if r.status().is_success() => Ok(()),
                    Ok(r) => anyhow::bail!("{url} answered {}", r.status()),
                    Err(e) => anyhow::bail!("{url}: {e}"),
                }
            }
            Command::Jobs { command } => {
                crate::telemetry::init(&config);
                let store = Store::connect(&config.database_url, config.database_max_connections).await?;
                jobs::run(&store, command).await
            }
            Command::Migrate => {
                crate::telemetry::init(&config);
                Store::connect(&config.database_url, config.database_max_connections).await?;
                eprintln!("database ready");
                Ok(())
            }
            Command::Clinic { command: ClinicCommand::Import { file } } => {
                crate::telemetry::init(&config);
                let text = std::fs::read_to_string(&file).with_context(|| format!("reading {}", file.display()))?;
                let store = Store::connect(&config.database_url, config.database_max_connections).await?;
                let catalog = ClinicFile::import(&text, &store, &crate::startup::cipher(&config)?, Utc::now()).await?;
                eprintln!("clinic {:?} imported: webhook path /webhooks/twilio/{}", catalog.clinic.name, catalog.clinic.slug);
                Ok(())
            }
            Command::Docs { command: DocsCommand::Add { clinic, patient, files } } => {
                crate::telemetry::init(&config);
                let store = Store::connect(&config.database_url, config.database_max_connections).await?;
                let library = crate::retrieval::Library::from_config(&config)?;
                docs_add(&store, &library, &clinic, patient.as_deref(), &files).await
            }
            Command::Calendar { command: CalendarCommand::Sync { practitioner } } => {
                crate::telemetry::init(&config);
                crate::install_crypto_provider();
                let practitioner = crate::domain::PractitionerId::parse(&practitioner).context("the practitioner id is a UUID")?;
                let store = Store::connect(&config.database_url, config.database_max_connections).await?;
                let google = crate::calendar::google::Google::from_config(&config, store.clone(), crate::startup::cipher(&config)?, crate::startup::clock(&config));
                let conn = store.google_connection_of(practitioner).await?.context("this practitioner has no Google Calendar connection")?;
                anyhow::ensure!(
                    conn.status == crate::storage::CONNECTED,
                    "the connection needs the practitioner to connect again ({})",
                    conn.last_error.unwrap_or_default()
                );
                let report = google.sync(&conn).await?;
                store.finish_google_sync(practitioner, Utc::now(), None, Utc::now()).await?;
                println!(
                    "{} calendar(s), {} page(s), {} event(s) read{}",
                    report.calendars,
                    report.pages,
                    report.events,
                    if report.full { " (full read)" } else { " (changes since the last sync)" }
                );
                let mut written = 0;
                while google.write_due(std::time::Duration::from_secs(60)).await? {
                    written += 1;
                }
                println!("{written} calendar write(s) attempted; pending: {}", store.pending_calendar_writes(practitioner).await?);
                Ok(())
            }
            Command::Extract { .. } | Command::EvalNlu { .. } | Command::TrainIntent { .. } | Command::Docs { .. } | Command::EvalDocs { .. } => {
                unreachable!("handled without a runtime")
            }
        }
    })
}

/// A terminal conversation with the real engine on a private in-memory database.
async fn chat(clinic_file: &str, phone: &str, docs: &[PathBuf]) -> anyhow::Result<()> {
    let phone = PhoneNumber::parse(phone).map_err(anyhow::Error::msg)?;
    let session = crate::harness::session::Session::start(clinic_file, Clock::system(), chrono::Duration::hours(4)).await?;
    if !docs.is_empty() {
        docs_add(&session.store, &crate::retrieval::Library::new(), &session.catalog.clinic.slug, None, docs).await?;
    }
    let interactive = std::io::IsTerminal::is_terminal(&std::io::stdin());
    if interactive {
        eprintln!("{} — écrivez comme un patient / write as a patient (Ctrl-D to quit).", session.catalog.clinic.name);
    }
    let stdin = std::io::stdin();
    let mut stdout = std::io::stdout();
    for line in stdin.lock().lines() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        for reply in session.say(&phone, Channel::Chat, &line).await? {
            writeln!(stdout, "{reply}\n")?;
        }
        stdout.flush()?;
    }
    Ok(())
}

fn parse_now(now: Option<&str>, tz: Tz) -> anyhow::Result<NaiveDateTime> {
    let Some(now) = now else { return Ok(Utc::now().with_timezone(&tz).naive_local()) };
    if let Ok(t) = DateTime::parse_from_rfc3339(now) {
        return Ok(t.with_timezone(&tz).naive_local());
    }
    for format in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(now, format) {
            return Ok(t);
        }
    }
    if let Ok(d) = chrono::NaiveDate::parse_from_str(now, "%Y-%m-%d") {
        return Ok(d.and_hms_opt(12, 0, 0).expect("noon exists"));
    }
    anyhow::bail!("--now {now:?} is not a local date-time like 2026-11-23T09:15:00")
}

fn parse_tz(tz: &str) -> anyhow::Result<Tz> {
    tz.parse().map_err(|_| anyhow::anyhow!("{tz:?} is not an IANA time zone (e.g. Africa/Kinshasa)"))
}

fn extraction_json(x: &understanding::Extraction) -> serde_json::Value {
    serde_json::json!({"intent": x.intent, "language": x.language, "entities": x.entities})
}

fn extract(
    config_path: Option<&std::path::Path>,
    now: Option<String>,
    tz: &str,
    jsonl: bool,
    text: Option<String>,
    model: Option<String>,
) -> anyhow::Result<()> {
    let default_tz = parse_tz(tz)?;
    // Rules only unless a model is configured (nuru.toml, NURU_MODEL_*) or named.
    let mut config = Config::load(config_path)?;
    if let Some(name) = model {
        anyhow::ensure!(
            config.model_backend != crate::config::ModelBackendKind::None,
            "--model needs model_backend (NURU_MODEL_BACKEND=ollama or openai)"
        );
        config.model_name = name;
    }
    crate::install_crypto_provider();
    let assist = crate::model::ModelAssist::from_config(&config)?;
    let runtime = match assist {
        Some(_) => Some(tokio::runtime::Builder::new_current_thread().enable_all().build()?),
        None => None,
    };
    let understand = |text: &str, now: NaiveDateTime| {
        let builtin = understanding::extract(text, now, None);
        match (&assist, &runtime) {
            (Some(a), Some(rt)) => rt.block_on(a.refine(text, builtin, now, None, None)).0,
            _ => builtin,
        }
    };
    if !jsonl {
        let text = text.context("give the message to understand, or --jsonl to read stdin")?;
        let now = parse_now(now.as_deref(), default_tz)?;
        println!("{}", extraction_json(&understand(&text, now)));
        return Ok(());
    }
    #[derive(serde::Deserialize)]
    struct Line {
        #[serde(default)]
        id: serde_json::Value,
        text: String,
        now: Option<String>,
        tz: Option<String>,
    }
    let stdin = std::io::stdin();
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for line in stdin.lock().lines() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let result = serde_json::from_str::<Line>(&line).map_err(anyhow::Error::from).and_then(|l| {
            let tz = match &l.tz {
                Some(t) => parse_tz(t)?,
                None => default_tz,
            };
            let now = parse_now(l.now.as_deref().or(now.as_deref()), tz)?;
            let mut v = extraction_json(&understand(&l.text, now));
            let obj = v.as_object_mut().expect("object");
            let mut ordered = serde_json::Map::new();
            ordered.insert("id".into(), l.id);
            ordered.append(obj);
            Ok(serde_json::Value::Object(ordered))
        });
        match result {
            Ok(v) => writeln!(out, "{v}")?,
            Err(e) => writeln!(out, "{}", serde_json::json!({"error": format!("{e:#}"), "line": line}))?,
        }
    }
    out.flush()?;
    Ok(())
}

/// The folder's documents indexed in memory; with `ocr`, its scans and
/// photos are read by the configured OCR program first (`ocr_command`).
fn load_folder(dir: &std::path::Path, ocr: Option<&Config>) -> anyhow::Result<crate::documents::folder::Folder> {
    let mut folder = crate::documents::folder::load(dir).with_context(|| format!("reading {}", dir.display()))?;
    if let Some(config) = ocr {
        let program = config.ocr_command.trim();
        anyhow::ensure!(!program.is_empty(), "--ocr needs an OCR program: ocr_command (NURU_OCR_COMMAND) is empty");
        let tesseract = crate::ocr::Tesseract::new(program, &config.ocr_languages, std::time::Duration::from_millis(config.ocr_timeout_ms));
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        for rel in folder.needs_ocr.clone() {
            let bytes = std::fs::read(dir.join(&rel)).with_context(|| format!("reading {rel}"))?;
            let ingested = crate::documents::ingest(&rel, None, &bytes).map_err(|e| anyhow::anyhow!("{rel}: {e}"))?;
            match runtime.block_on(crate::retrieval::read_by_ocr(&tesseract, ingested, &bytes)) {
                Ok(read) => {
                    let confident = read.passages.len();
                    folder.add_read(&rel, &read);
                    if confident > 0 {
                        eprintln!("{rel}: read by OCR ({confident} passages, status {})", read.status);
                    }
                }
                Err(e) => eprintln!("{rel}: OCR failed: {e}"),
            }
        }
    }
    for path in &folder.needs_ocr {
        eprintln!("{path}: a scan or photo with no text layer; it needs OCR and is not indexed");
    }
    for (path, why) in &folder.failed {
        eprintln!("{path}: {why}");
    }
    Ok(folder)
}

fn docs_search(config_path: Option<&std::path::Path>, dir: &std::path::Path, k: usize, jsonl: bool, ocr: bool) -> anyhow::Result<()> {
    use crate::documents::folder::{Question, search};
    use std::io::{BufRead, Write};
    anyhow::ensure!(jsonl, "nuru docs search reads questions as JSON lines: add --jsonl");
    let config = if ocr { Some(Config::load(config_path)?) } else { None };
    let folder = load_folder(dir, config.as_ref())?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    for (n, line) in std::io::stdin().lock().lines().enumerate() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let q: Question =
            serde_json::from_str(&line).with_context(|| format!("stdin line {}: expected {{\"id\",\"question\",\"patient\"?}}", n + 1))?;
        let results = search(&folder.index, &q, None, k);
        writeln!(out, "{}", serde_json::json!({ "id": q.id, "results": results }))?;
    }
    out.flush()?;
    Ok(())
}

fn eval_docs(
    config_path: Option<&std::path::Path>,
    file: &std::path::Path,
    dir: Option<PathBuf>,
    errors: bool,
    min_recall_at_3: f64,
    embeddings: bool,
    ocr: bool,
) -> anyhow::Result<()> {
    use crate::documents::folder::{Question, evaluate_with};
    let dir = dir.unwrap_or_else(|| file.parent().unwrap_or(std::path::Path::new(".")).join("documents"));
    let ocr_config = if ocr { Some(Config::load(config_path)?) } else { None };
    let mut folder = load_folder(&dir, ocr_config.as_ref())?;
    let text = std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    let questions: Vec<Question> = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(n, l)| serde_json::from_str(l).with_context(|| format!("{}:{}: not a labelled question", file.display(), n + 1)))
        .collect::<anyhow::Result<_>>()?;
    let mut vectors = None;
    if embeddings {
        let config = Config::load(config_path)?;
        let embedder = crate::model::embed::Embedder::from_config(&config)?
            .context("--embeddings needs an embedding model: set NURU_EMBEDDING_BACKEND (ollama or openai), _BASE_URL and _MODEL")?;
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        let passages: Vec<String> = folder
            .index
            .passages()
            .iter()
            .map(|p| crate::documents::dense::passage_text(&p.title, p.heading.as_deref(), &p.text))
            .collect();
        let asked: Vec<String> = questions.iter().map(|q| q.question.clone()).collect();
        let started = std::time::Instant::now();
        let (passages, asked) =
            runtime.block_on(async { Ok::<_, anyhow::Error>((embedder.embed(&passages).await?, embedder.embed(&asked).await?)) })?;
        eprintln!(
            "embedded {} passages and {} questions with {} in {:.1} s",
            passages.len(),
            asked.len(),
            embedder.model(),
            started.elapsed().as_secs_f64()
        );
        folder.index.set_dense_weight(config.embedding_weight);
        folder.index = std::mem::take(&mut folder.index).with_vectors(passages);
        vectors = Some(asked);
    }
    let e = evaluate_with(&folder.index, &questions, vectors.as_deref());
    if errors {
        for (id, q, got) in &e.misses {
            println!("{id:<6} {q:<60} got {got:?}");
        }
        println!();
    }
    println!("{} documents, {} passages", folder.documents, folder.index.len());
    println!("all      {}", e.all);
    println!("French   {}", e.french);
    println!("English  {}", e.english);
    if e.all.recall_at_3() < min_recall_at_3 {
        anyhow::bail!("recall@3 {:.3} < {min_recall_at_3}", e.all.recall_at_3());
    }
    Ok(())
}

async fn docs_add(
    store: &Store,
    library: &crate::retrieval::Library,
    slug: &str,
    patient: Option<&str>,
    files: &[PathBuf],
) -> anyhow::Result<()> {
    let clinic = store
        .clinic_by_slug(slug)
        .await?
        .with_context(|| format!("no clinic with slug {slug:?} (import it first: nuru clinic import FILE)"))?;
    let patient = match patient {
        Some(p) => {
            let id = crate::domain::PatientId::parse(p).map_err(|_| anyhow::anyhow!("--patient {p:?} is not a patient id"))?;
            let record = store.patient(clinic.id, id).await?.filter(|r| !r.erased);
            anyhow::ensure!(record.is_some(), "no patient {p} in clinic {slug}");
            Some(id)
        }
        None => None,
    };
    let mut failed = 0;
    for path in files {
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        let file = crate::retrieval::NewFile {
            clinic: clinic.id,
            patient,
            file_name: &name,
            content_type: None,
            bytes: &bytes,
            source: "cli",
            actor: None,
        };
        match crate::retrieval::add_document(store, library, &file, None, Utc::now()).await {
            Ok((id, i)) if i.status == "needs_ocr" => {
                let what = if i.format == crate::documents::Format::Pdf { "a PDF with no text layer (a scan)" } else { "a photo" };
                eprintln!("{}: stored as {id}, but it is {what}: it needs OCR and cannot be searched", path.display())
            }
            Ok((id, i)) if i.status == crate::documents::scan::NEEDS_REVIEW => eprintln!(
                "{}: stored as {id} and read by OCR, but a page was too uncertain to search ({} passage(s) searchable): check it",
                path.display(),
                i.passages.len()
            ),
            Ok((id, i)) => {
                let ocr = if i.passages.iter().any(|p| p.ocr_confidence.is_some()) { ", read by OCR" } else { "" };
                eprintln!("{}: added as {id} ({} page(s), {} passage(s){ocr})", path.display(), i.pages, i.passages.len())
            }
            Err(crate::retrieval::AddError::Refused(e)) => {
                failed += 1;
                eprintln!("{}: {e}", path.display());
            }
            Err(e) => return Err(e.into()),
        }
    }
    anyhow::ensure!(failed == 0, "{failed} file(s) not added");
    Ok(())
}
