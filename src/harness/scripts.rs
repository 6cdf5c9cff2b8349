//! Conversation scripts: whole conversations as data (`fixtures/conversations/*.toml`),
//! run against the real engine by `cargo test` and `nuru test-conversations DIR`.
//!
//! ```toml
//! title = "A new patient books, one piece at a time"
//! clinic = "demo"                 # demo | rules
//! now = "2026-11-23T09:15:00"     # the clinic's local time when the script starts
//! phone = "+243990000001"
//! channel = "whatsapp"            # whatsapp | sms | chat
//! measure = "new_patient"         # optional: counted in the turns-to-booking report
//!
//! [[patients]]                    # optional: already linked to the phone
//! first_name = "Awa"
//! last_name = "Mendy"
//! birth_date = "1990-05-15"
//! relation = "daughter"           # optional: how they are related to the writer
//!
//! [[appointments]]                # optional: already booked (patient = index above)
//! patient = 0
//! practitioner = "Kabeya"         # last name
//! service = "consultation"        # French name
//! at = "2026-11-25T10:00:00"      # local
//!
//! [[turns]]
//! say = "Bonjour, je voudrais un rdv demain matin"
//! expect = ["mardi 24 novembre"]  # fragments the replies must contain (case-insensitive)
//! reject = ["Dr Aminata"]         # fragments they must not contain
//! replies = 1                     # optional exact number of replies
//! wait_minutes = 0                # optional: the clock moves first (no `say`:
//!                                 # nothing is written, and `expect` checks
//!                                 # what Nuru wrote first, e.g. a reminder)
//! staff_release = false           # optional: staff hand the conversation back first
//! staff_attended = 0              # optional: staff mark appointment #0 attended first
//!
//! [end]
//! booked = 1                      # booked appointments in the clinic
//! cancelled = 0
//! needs_human = false
//! urgent = false
//! booked_at = ["2026-11-24T08:00:00"]  # local starts of the booked appointments
//! booked_for = ["Awa Mendy 1990-05-15"] # whom they are for (name and birth date)
//! rating = 4                      # the feedback rating recorded
//! comment = "attente"             # a fragment of the feedback comment recorded
//! ```

use crate::clock::Clock;
use crate::domain::{AppointmentStatus, Channel, ConsultationMode, PhoneNumber};
use crate::harness::session::Session;
use crate::scheduling::{self, BookRequest};
use chrono::{Duration, NaiveDate, NaiveDateTime, TimeZone};
use serde::Deserialize;
use std::path::{Path, PathBuf};

pub const RULES_CLINIC: &str = include_str!("../../fixtures/rules-clinic.toml");

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Script {
    pub title: String,
    #[serde(default = "demo")]
    pub clinic: String,
    #[serde(default = "default_now")]
    pub now: String,
    #[serde(default = "default_phone")]
    pub phone: String,
    #[serde(default = "whatsapp")]
    pub channel: String,
    pub measure: Option<String>,
    #[serde(default)]
    pub patients: Vec<ScriptPatient>,
    #[serde(default)]
    pub appointments: Vec<ScriptAppointment>,
    pub turns: Vec<Turn>,
    #[serde(default)]
    pub end: End,
}

fn demo() -> String {
    "demo".into()
}
fn default_now() -> String {
    "2026-11-23T09:15:00".into()
}
fn default_phone() -> String {
    "+243990000001".into()
}
fn whatsapp() -> String {
    "whatsapp".into()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScriptPatient {
    pub first_name: String,
    pub last_name: String,
    pub birth_date: Option<NaiveDate>,
    /// Another phone than the script's (a patient the sender must never see).
    pub phone: Option<String>,
    /// How they are related to the writer: child, son, daughter, mother, …
    pub relation: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScriptAppointment {
    pub patient: usize,
    pub practitioner: String,
    pub service: String,
    pub at: NaiveDateTime,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Turn {
    /// What the patient writes; empty: nothing, the time passes (after
    /// `wait_minutes`) and the replies are what Nuru wrote first (reminders).
    #[serde(default)]
    pub say: String,
    #[serde(default)]
    pub expect: Vec<String>,
    #[serde(default)]
    pub reject: Vec<String>,
    pub replies: Option<usize>,
    #[serde(default)]
    pub wait_minutes: i64,
    #[serde(default)]
    pub staff_release: bool,
    /// Staff mark this appointment (index in `appointments`) attended first.
    pub staff_attended: Option<usize>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct End {
    pub booked: Option<usize>,
    pub cancelled: Option<usize>,
    pub needs_human: Option<bool>,
    pub urgent: Option<bool>,
    pub booked_at: Option<Vec<NaiveDateTime>>,
    /// Who the booked appointments are for, as "First Last YYYY-MM-DD".
    pub booked_for: Option<Vec<String>>,
    /// The feedback rating recorded.
    pub rating: Option<u8>,
    /// A fragment of the feedback comment recorded.
    pub comment: Option<String>,
}

/// What one script did.
#[derive(Debug)]
pub struct Outcome {
    pub file: PathBuf,
    pub title: String,
    pub measure: Option<String>,
    /// The patient turn (1-based) after which the first new booking existed.
    pub turns_to_booking: Option<usize>,
    pub failure: Option<String>,
    pub transcript: Vec<(String, Vec<String>)>,
}

fn contains(haystack: &str, needle: &str) -> bool {
    haystack.to_lowercase().contains(&needle.to_lowercase())
}

pub async fn run(file: &Path) -> Outcome {
    run_with(file, None).await
}

/// Runs a script with model-assisted understanding.
pub async fn run_with(file: &Path, model: Option<std::sync::Arc<crate::model::ModelAssist>>) -> Outcome {
    let mut outcome = Outcome {
        file: file.to_path_buf(),
        title: String::new(),
        measure: None,
        turns_to_booking: None,
        failure: None,
        transcript: Vec::new(),
    };
    if let Err(e) = run_into(file, model, &mut outcome).await {
        outcome.failure = Some(format!("{e:#}"));
    }
    outcome
}

async fn run_into(file: &Path, model: Option<std::sync::Arc<crate::model::ModelAssist>>, out: &mut Outcome) -> anyhow::Result<()> {
    use anyhow::{Context, bail};
    let text = std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    let script: Script = toml::from_str(&text).with_context(|| format!("{} is not a valid script", file.display()))?;
    out.title = script.title.clone();
    out.measure = script.measure.clone();
    let clinic_file = match script.clinic.as_str() {
        "demo" => crate::clinic_file::DEMO_CLINIC,
        "rules" => RULES_CLINIC,
        other => bail!("unknown clinic {other:?} (demo or rules)"),
    };
    let channel = Channel::parse(&script.channel).with_context(|| format!("unknown channel {:?}", script.channel))?;
    let now_local: NaiveDateTime = script.now.parse().with_context(|| format!("now {:?} is not a local date-time", script.now))?;
    // Parse the clinic file once for its zone, then start the session at that instant.
    let (probe, _) = crate::clinic_file::ClinicFile::parse(clinic_file)?.into_catalog()?;
    let now = crate::scheduling::local_instant(probe.clinic.timezone, now_local);
    let clock = Clock::fixed(now);
    let session = Session::start_with(clinic_file, clock.clone(), Duration::hours(4), model).await?;
    let catalog = session.catalog.clone();
    let tz = catalog.clinic.timezone;
    let phone = PhoneNumber::parse(&script.phone).map_err(anyhow::Error::msg)?;

    let mut patients = Vec::new();
    for p in &script.patients {
        let their_phone = match &p.phone {
            Some(other) => PhoneNumber::parse(other).map_err(anyhow::Error::msg)?,
            None => phone.clone(),
        };
        let mut tx = session.store.begin().await?;
        let created =
            crate::storage::Store::create_patient(&mut tx, catalog.clinic.id, &p.first_name, &p.last_name, p.birth_date, &their_phone, now)
                .await?;
        if let Some(relation) = &p.relation {
            let relation = crate::domain::Relation::parse(relation).ok_or_else(|| anyhow::anyhow!("unknown relation {relation:?}"))?;
            crate::storage::Store::set_relation(&mut tx, catalog.clinic.id, created.id, &their_phone, relation).await?;
        }
        tx.commit().await?;
        patients.push(created.id);
    }
    let mut set_up = Vec::new();
    for a in &script.appointments {
        let practitioner = catalog
            .practitioners
            .iter()
            .find(|p| p.last_name == a.practitioner)
            .with_context(|| format!("no practitioner {}", a.practitioner))?;
        let service = catalog
            .services
            .iter()
            .find(|s| s.name_fr == a.service || s.name_en == a.service)
            .with_context(|| format!("no service {}", a.service))?;
        let patient = *patients.get(a.patient).with_context(|| format!("no patient #{}", a.patient))?;
        let start = tz.from_local_datetime(&a.at).earliest().context("local time does not exist")?.with_timezone(&chrono::Utc);
        let req = BookRequest {
            practitioner: practitioner.id,
            service: service.id,
            mode: ConsultationMode::InPerson,
            patient,
            start,
            source: "staff",
            conversation: None,
        };
        let mut tx = session.store.begin().await?;
        let id = scheduling::book(&mut tx, &catalog, &req, now).await.with_context(|| format!("setting up the appointment at {}", a.at))?;
        tx.commit().await?;
        set_up.push(id);
    }
    let booked_count = |list: &[crate::domain::Appointment]| list.iter().filter(|a| a.status == AppointmentStatus::Booked).count();
    let initial = booked_count(&session.store.appointments(catalog.clinic.id).await?);

    for (i, turn) in script.turns.iter().enumerate() {
        if turn.wait_minutes > 0 {
            clock.advance(Duration::minutes(turn.wait_minutes));
        }
        if turn.staff_release {
            session.staff_release(&phone, channel).await?;
        }
        if let Some(i) = turn.staff_attended {
            let id = *set_up.get(i).with_context(|| format!("no appointment #{i}"))?;
            session.staff_mark(id, AppointmentStatus::Attended).await?;
        }
        let replies =
            if turn.say.is_empty() { session.idle(&phone, channel).await? } else { session.say(&phone, channel, &turn.say).await? };
        out.transcript.push((turn.say.clone(), replies.clone()));
        let all = replies.join("\n");
        for e in &turn.expect {
            if !contains(&all, e) {
                bail!("turn {} ({:?}): expected {:?} in the replies", i + 1, turn.say, e);
            }
        }
        for r in &turn.reject {
            if contains(&all, r) {
                bail!("turn {} ({:?}): {:?} must not appear in the replies", i + 1, turn.say, r);
            }
        }
        if let Some(n) = turn.replies
            && replies.len() != n
        {
            bail!("turn {} ({:?}): {} replies, expected {n}", i + 1, turn.say, replies.len());
        }
        if out.turns_to_booking.is_none() && booked_count(&session.store.appointments(catalog.clinic.id).await?) > initial {
            out.turns_to_booking = Some(i + 1);
        }
    }

    let appointments = session.store.appointments(catalog.clinic.id).await?;
    let conversation = session.conversation(&phone, channel).await?;
    let end = &script.end;
    if let Some(n) = end.booked
        && booked_count(&appointments) != n
    {
        bail!("end: {} booked appointments, expected {n}", booked_count(&appointments));
    }
    if let Some(n) = end.cancelled {
        let got = appointments.iter().filter(|a| a.status == AppointmentStatus::Cancelled).count();
        if got != n {
            bail!("end: {got} cancelled appointments, expected {n}");
        }
    }
    if let Some(b) = end.needs_human
        && conversation.needs_human != b
    {
        bail!("end: needs_human is {}, expected {b}", conversation.needs_human);
    }
    if let Some(b) = end.urgent
        && conversation.urgent != b
    {
        bail!("end: urgent is {}, expected {b}", conversation.urgent);
    }
    if let Some(starts) = &end.booked_at {
        let mut got: Vec<NaiveDateTime> = appointments
            .iter()
            .filter(|a| a.status == AppointmentStatus::Booked)
            .map(|a| a.starts_at.with_timezone(&tz).naive_local())
            .collect();
        got.sort();
        let mut want = starts.clone();
        want.sort();
        if got != want {
            bail!("end: booked at {got:?}, expected {want:?}");
        }
    }
    if let Some(want) = &end.booked_for {
        let mut got = Vec::new();
        for a in appointments.iter().filter(|a| a.status == AppointmentStatus::Booked) {
            let p = session.store.patient(catalog.clinic.id, a.patient_id).await?.map(|r| r.patient);
            got.push(p.map_or_else(
                || "(no patient)".to_string(),
                |p| format!("{} {} {}", p.first_name, p.last_name, p.birth_date.map(|d| d.to_string()).unwrap_or_default()),
            ));
        }
        got.sort();
        let mut want = want.clone();
        want.sort();
        if got != want {
            bail!("end: booked for {got:?}, expected {want:?}");
        }
    }
    if end.rating.is_some() || end.comment.is_some() {
        let far = chrono::Duration::days(3650);
        let stats = session.store.feedback_stats(catalog.clinic.id, now - far, now + far, None, None).await?;
        let ratings: Vec<u8> =
            (1..=5u8).flat_map(|r| std::iter::repeat_n(r, stats.overall.distribution[r as usize - 1] as usize)).collect();
        if let Some(r) = end.rating
            && ratings != [r]
        {
            bail!("end: ratings {ratings:?}, expected [{r}]");
        }
        if let Some(fragment) = &end.comment
            && !stats.comments.iter().any(|c| contains(&c.comment, fragment))
        {
            bail!("end: no feedback comment contains {fragment:?}");
        }
    }
    Ok(())
}

/// Every `*.toml` script in `dir`, in name order.
pub async fn run_dir(dir: &Path) -> anyhow::Result<Vec<Outcome>> {
    run_dir_with(dir, None).await
}

pub async fn run_dir_with(dir: &Path, model: Option<std::sync::Arc<crate::model::ModelAssist>>) -> anyhow::Result<Vec<Outcome>> {
    let mut files: Vec<PathBuf> =
        std::fs::read_dir(dir)?.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.extension().is_some_and(|x| x == "toml")).collect();
    files.sort();
    let mut outcomes = Vec::new();
    for f in files {
        outcomes.push(run_with(&f, model.clone()).await);
    }
    Ok(outcomes)
}

fn median(mut v: Vec<usize>) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_unstable();
    let n = v.len();
    Some(if n % 2 == 1 { v[n / 2] as f64 } else { (v[n / 2 - 1] + v[n / 2]) as f64 / 2.0 })
}

/// The report `nuru test-conversations` prints: one line per script, the
/// failures with their transcript, and the turns-to-booking medians.
pub fn report(outcomes: &[Outcome], verbose: bool) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    for o in outcomes {
        let name = o.file.file_name().map(|f| f.to_string_lossy().to_string()).unwrap_or_default();
        match &o.failure {
            None => {
                let _ = writeln!(s, "ok    {name}  {}", o.title);
            }
            Some(why) => {
                let _ = writeln!(s, "FAIL  {name}  {}\n      {why}", o.title);
            }
        }
        if verbose || o.failure.is_some() {
            for (said, replies) in &o.transcript {
                let _ = writeln!(s, "      > {said}");
                for r in replies {
                    let _ = writeln!(s, "        {}", r.replace('\n', "\n        "));
                }
            }
        }
    }
    let failed = outcomes.iter().filter(|o| o.failure.is_some()).count();
    let _ = writeln!(s, "\n{} scripts, {} passed, {failed} failed", outcomes.len(), outcomes.len() - failed);
    let mut measures: Vec<&str> = outcomes.iter().filter_map(|o| o.measure.as_deref()).collect();
    measures.sort_unstable();
    measures.dedup();
    for m in measures {
        let turns: Vec<usize> = outcomes.iter().filter(|o| o.measure.as_deref() == Some(m)).filter_map(|o| o.turns_to_booking).collect();
        let count = outcomes.iter().filter(|o| o.measure.as_deref() == Some(m)).count();
        if let Some(med) = median(turns.clone()) {
            let _ = writeln!(
                s,
                "turns to a confirmed booking [{m}]: median {med}, over {} of {count} scripts (max {})",
                turns.len(),
                turns.iter().max().unwrap_or(&0)
            );
        }
    }
    s
}
