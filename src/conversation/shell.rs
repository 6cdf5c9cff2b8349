//! The I/O around `step`: load the context of a turn, understand the message,
//! run the state machine, and apply its effects (replies to the outbox,
//! bookings, flags, new state, message marked processed) in one transaction.

use super::state::{Conversation, PatientChoice};
use super::step::step;
use super::texts;
use super::turn::{DocumentQuery, Effect, Event, Outcome, TurnContext};
use crate::clock::Clock;
use crate::domain::{ClinicCatalog, ConsultationMode, Lang, Occupancy, mask_phone};
use crate::scheduling::{self, BookRequest, BookingError, MoveRequest};
use crate::storage::{Activity, ClaimedInbound, ConversationRow, Lifetime, NewOutbound, StorageError, Store};
use crate::understanding::{self, ClinicLexicon};
use chrono::Duration;

/// Reads of occupancy a turn may make: a week, then two, four, eight weeks
/// as a search widens, and the whole horizon last.
const MAX_OCCUPANCY_READS: usize = 6;

/// Document searches a turn may make (the step asks for one).
const MAX_DOCUMENT_SEARCHES: usize = 2;
use std::cell::Cell;
use tracing::{info, warn};

#[derive(Debug, thiserror::Error)]
pub enum TurnError {
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// What a processed turn did (for logs, tests and benchmarks; no text).
#[derive(Debug, Clone, Default)]
pub struct TurnReport {
    pub replies: usize,
    pub booked: bool,
    pub slot_was_taken: bool,
    pub already_processed: bool,
}

#[derive(Debug, Clone)]
pub struct TurnRunner {
    store: Store,
    clock: Clock,
    idle_after: Duration,
    /// Public base URL: when set, booking confirmations carry a link to the
    /// appointment's calendar file.
    calendar_base: Option<String>,
    /// Asked only about what the rules cannot settle (see `model::assist`).
    model: Option<std::sync::Arc<crate::model::ModelAssist>>,
    catalogs: Catalogs,
    /// The clinics' documents, searched when a question is not answered by the settings.
    library: std::sync::Arc<crate::retrieval::Library>,
    /// Fetches the files patients send, from the clinic's Twilio account.
    media: Option<std::sync::Arc<crate::channels::twilio::media::MediaSource>>,
    /// Asked for the practitioner's Google free/busy right before a booking or
    /// a move is written.
    google: Option<std::sync::Arc<crate::calendar::google::Google>>,
}

/// A clinic's catalog as this node holds it, with the lexicon built from it.
#[derive(Debug)]
pub struct LoadedCatalog {
    version: i64,
    pub catalog: ClinicCatalog,
    pub lexicon: ClinicLexicon,
}

/// The catalogs of the clinics this node serves. A turn asks the database
/// only for the clinic's `catalog_version` (one indexed read); the catalog
/// and its lexicon are loaded again only when that number moved, which every
/// change to the catalog does in its own transaction. Several nodes each keep
/// their own copy and see a change on their next turn.
#[derive(Debug, Clone, Default)]
struct Catalogs(std::sync::Arc<std::sync::Mutex<std::collections::HashMap<crate::domain::ClinicId, std::sync::Arc<LoadedCatalog>>>>);

impl Catalogs {
    async fn get(&self, store: &Store, clinic: crate::domain::ClinicId) -> Result<std::sync::Arc<LoadedCatalog>, StorageError> {
        // The version is read before the catalog: a change in between leaves
        // an older number with the newer catalog, and the next turn reloads.
        let version = store.catalog_version(clinic).await?;
        let held = self.0.lock().expect("catalog cache").get(&clinic).filter(|l| l.version == version).cloned();
        if let Some(held) = held {
            return Ok(held);
        }
        let catalog = store.catalog(clinic).await?;
        let loaded = std::sync::Arc::new(LoadedCatalog { version, lexicon: lexicon(&catalog), catalog });
        self.0.lock().expect("catalog cache").insert(clinic, loaded.clone());
        Ok(loaded)
    }
}

enum Applied {
    Done(TurnReport),
    SlotTaken,
}

impl TurnRunner {
    /// The documents the turns search, and where documents are read into.
    pub fn library(&self) -> &crate::retrieval::Library {
        &self.library
    }

    pub fn new(store: Store, clock: Clock, idle_after: Duration) -> Self {
        Self {
            store,
            clock,
            idle_after,
            calendar_base: None,
            model: None,
            catalogs: Catalogs::default(),
            library: std::sync::Arc::new(crate::retrieval::Library::new()),
            media: None,
            google: None,
        }
    }

    pub fn with_google(mut self, google: std::sync::Arc<crate::calendar::google::Google>) -> Self {
        self.google = Some(google);
        self
    }

    /// Staff release a handed-off conversation: the bot answers again, from a fresh state.
    pub async fn release(
        &self,
        clinic: crate::domain::ClinicId,
        conversation: crate::domain::ConversationId,
    ) -> Result<bool, StorageError> {
        self.store.set_conversation_owner(clinic, conversation, &super::fresh_state_json(), false, None, self.clock.now()).await
    }

    pub fn with_model(mut self, model: std::sync::Arc<crate::model::ModelAssist>) -> Self {
        self.model = Some(model);
        self
    }

    /// Files patients send are fetched through this source.
    pub fn with_media(mut self, media: std::sync::Arc<crate::channels::twilio::media::MediaSource>) -> Self {
        self.media = Some(media);
        self
    }

    /// Documents are searched with this embedding model besides their words.
    pub fn with_library(mut self, library: std::sync::Arc<crate::retrieval::Library>) -> Self {
        self.library = library;
        self
    }

    pub fn with_calendar_links(mut self, public_base_url: &str) -> Self {
        self.calendar_base = Some(public_base_url.trim_end_matches('/').to_string());
        self
    }

    #[tracing::instrument(skip_all, fields(message = m.id, clinic = %m.clinic_id))]
    pub async fn process(&self, m: &ClaimedInbound) -> Result<TurnReport, TurnError> {
        let now = self.clock.now();
        let loaded = self.catalogs.get(&self.store, m.clinic_id).await?;
        let (catalog, lexicon) = (&loaded.catalog, &loaded.lexicon);
        let clinic = &catalog.clinic;
        let initial = serde_json::to_string(&Conversation::default()).expect("state serialises");
        let row = self.store.conversation_for(clinic.id, m.channel, &m.from, clinic.default_language, &initial, now).await?;
        let state: Conversation = serde_json::from_str(&row.state_json).unwrap_or_else(|e| {
            warn!(conversation = %row.id, error = %e, "stored conversation state unreadable; starting afresh");
            Conversation::default()
        });

        let local_now = now.with_timezone(&clinic.timezone).naive_local();
        let understood = understanding::extract(&m.body, local_now, Some(lexicon));
        // The model, if any, only where the rules are unsure; here in the
        // worker, after the webhook has long been acknowledged.
        let understood = match &self.model {
            Some(model) if model.allowed_by(catalog.clinic.model_policy) => {
                let (refined, outcome) = model.refine(&m.body, understood, local_now, Some(catalog), Some(lexicon)).await;
                if let Some(outcome) = outcome {
                    info!(conversation = %row.id, backend = model.backend_name(), outcome = ?outcome, "model consulted");
                    let ok = matches!(outcome, crate::model::CallOutcome::Valid | crate::model::CallOutcome::Repaired);
                    let kind = if ok { Activity::ModelCall } else { Activity::ModelFailure };
                    self.store.note_activity(clinic.id, kind, "bot", now).await?;
                    if !ok {
                        let kind = format!(
                            "model_{}",
                            serde_json::to_value(outcome).ok().and_then(|v| v.as_str().map(String::from)).unwrap_or_default()
                        );
                        self.store.system_event(Some(clinic.id), &kind, model.backend_name(), now).await?;
                    }
                }
                refined
            }
            _ => understood,
        };
        // A tapped quick-reply button of a template ("1"/"confirm",
        // "2"/"cancel", "3"/"move") is the choice it stands for. Its id is
        // the message's text: it says nothing of the patient's language, and
        // a "cancel" button is not the CANCEL opt-out keyword.
        let mut understood = understood;
        let button = crate::channels::twilio::inbound::button_payload(&m.fields_json);
        if let Some(choice) = button.as_deref().and_then(button_choice) {
            understood.entities.choice = Some(choice);
        }
        if button.is_some() {
            understood.signals.consent = None;
        }
        let said_in = if button.is_some() { None } else { understanding::language_signal(&m.body) };
        let idle_reset = row.last_inbound_at.is_some_and(|t| now - t > self.idle_after);
        info!(conversation = %row.id, from = %mask_phone(m.from.as_str()), intent = understood.intent.as_str(), confidence = understood.confidence, "turn");

        let event = Event::Message { understood: &understood, language: said_in, idle_reset };
        let attachment = crate::channels::twilio::media::inbound_media(&m.fields_json).first().map(|f| attachment_kind(&f.content_type));
        // Read only when the message is a consent keyword: whether the phone
        // had opted out decides whether STOP is acknowledged and START counts.
        let opted_out = match understood.signals.consent {
            Some(_) => self.store.consent(clinic.id, &row.phone, row.channel).await?.is_some_and(|c| c.opted_out),
            None => false,
        };
        let reminded = match row.awaiting_reminder {
            Some(reminder) => self.store.reminder_appointment(reminder).await?.map(|(appointment, _)| appointment),
            None => None,
        };
        let feedback = match row.awaiting_feedback {
            Some(request) => self.store.awaited_feedback(row.id, request).await?,
            None => None,
        };
        let asked = Asked { opted_out, reminded, feedback, now };
        let outcome = self.decide(catalog, &row, &state, event, Some((m.id, &m.body, attachment)), asked).await?;
        match self.apply(catalog, &row, (m.id, &m.body), outcome, now).await? {
            Applied::Done(report) => Ok(report),
            Applied::SlotTaken => {
                // Someone took the slot between proposal and confirmation: re-enter
                // the machine with the fresh busy time.
                info!(conversation = %row.id, "slot taken at confirmation; proposing others");
                let outcome = self.decide(catalog, &row, &state, Event::SlotTaken, None, asked).await?;
                match self.apply(catalog, &row, (m.id, &m.body), outcome, now).await? {
                    Applied::Done(report) => Ok(TurnReport { slot_was_taken: true, ..report }),
                    Applied::SlotTaken => Err(StorageError::Conflict("slot").into()),
                }
            }
        }
    }

    async fn decide(
        &self,
        catalog: &ClinicCatalog,
        row: &ConversationRow,
        state: &Conversation,
        event: Event<'_>,
        // The message (id, text, the kind of file it carries), if the turn answers one.
        message: Option<(i64, &str, Option<super::turn::Attachment>)>,
        asked: Asked,
    ) -> Result<Outcome, TurnError> {
        let now = asked.now;
        let attachment = message.and_then(|(_, _, a)| a);
        let message = message.map(|(id, body, _)| (id, body));
        let clinic = &catalog.clinic;
        let horizon = (now - Duration::days(1), now + Duration::days(clinic.booking_horizon_days as i64 + 2));
        let patients = self.store.patients_for_phone(clinic.id, &row.phone).await?;
        let upcoming = self.store.upcoming_for_phone(clinic.id, &row.phone, now).await?;
        // The transition is pure and cheap: it runs first with nothing read,
        // then again with the occupancy of the span its searches needed,
        // read once; a search that went further (a week was full, so it
        // tried two, then four…) adds only the days not read yet. The
        // outcome is the one a run with everything read gives; the last pass
        // reads the whole horizon, which covers every search.
        // Likewise, the clinic's documents are searched only when the step
        // asked for them (a question the settings do not answer), and the
        // step runs again with what was found.
        let mut occupancy = Occupancy::default();
        let mut span = (now, now);
        let mut documents: Option<(DocumentQuery, Vec<crate::documents::Quote>)> = None;
        let mut reads = 0;
        let mut searches = 0;
        let mut attached: Option<(super::turn::AttachRequest, super::turn::Attached)> = None;
        loop {
            let (outcome, wanted, documents_wanted, attach_wanted) = {
                let wanted = Cell::new(None);
                let documents_wanted = Cell::new(None);
                let attach_wanted = Cell::new(None);
                let ctx = TurnContext {
                    now,
                    catalog,
                    occupancy: &occupancy,
                    occupancy_span: span,
                    occupancy_wanted: &wanted,
                    message: message.map_or(0, |(id, _)| id),
                    documents: documents.as_ref().map(|(q, found)| (*q, found.as_slice())),
                    documents_wanted: &documents_wanted,
                    patients: &patients,
                    upcoming: &upcoming,
                    channel: row.channel,
                    attachment,
                    attached,
                    attach_wanted: &attach_wanted,
                    reminded: asked.reminded,
                    opted_out: asked.opted_out,
                    feedback: asked.feedback,
                };
                (step(state, row.language, event, &ctx), wanted.get(), documents_wanted.get(), attach_wanted.get())
            };
            // A file is added at most once per turn: should the step ask
            // for another, it decides with a failure.
            if let Some(request) = attach_wanted
                && attached.is_none_or(|(have, _)| have != request)
            {
                let result = match attached {
                    None => self.attach(clinic, row, &patients, request, now).await?,
                    Some(_) => super::turn::Attached::Failed,
                };
                attached = Some((request, result));
                continue;
            }
            // A step asks for one search; should it ever ask for another
            // after being given the first, it decides with an empty result
            // rather than sending the turn round without end.
            if let Some(query) = documents_wanted
                && documents.as_ref().is_none_or(|(q, _)| *q != query)
            {
                searches += 1;
                let found = if searches <= MAX_DOCUMENT_SEARCHES {
                    self.retrieve(clinic.id, row, &patients, message, query, clinic.model_policy).await?
                } else {
                    Vec::new()
                };
                documents = Some((query, found));
                if searches <= MAX_DOCUMENT_SEARCHES + 1 {
                    continue;
                }
            }
            let Some((lo, hi)) = wanted else { return Ok(outcome) };
            // Nothing is taken outside the horizon that a search may use.
            let (lo, hi) = (lo.max(horizon.0), hi.min(horizon.1));
            if (lo >= span.0 && hi <= span.1) || lo >= hi {
                return Ok(outcome);
            }
            reads += 1;
            if reads == MAX_OCCUPANCY_READS {
                span = horizon;
                occupancy = self.store.occupancy(clinic.id, span.0, span.1).await?;
            } else if reads > MAX_OCCUPANCY_READS {
                unreachable!("the last read covers the whole horizon, which covers every search")
            } else if span.0 >= span.1 {
                span = (lo, hi);
                occupancy = self.store.occupancy(clinic.id, lo, hi).await?;
            } else {
                if lo < span.0 {
                    occupancy.extend(self.store.occupancy(clinic.id, lo, span.0).await?);
                }
                if hi > span.1 {
                    occupancy.extend(self.store.occupancy(clinic.id, span.1, hi).await?);
                }
                span = (lo.min(span.0), hi.max(span.1));
            }
        }
    }

    /// Adds the file a patient sent with message `request.message` to
    /// `request.patient`'s file (a patient linked to this phone), fetched
    /// from the clinic's own Twilio account. The same file twice is added
    /// once. Every failure is the same answer to the patient (the team takes
    /// over) and a system event for staff, with no content.
    async fn attach(
        &self,
        clinic: &crate::domain::Clinic,
        row: &ConversationRow,
        patients: &[crate::domain::Patient],
        request: super::turn::AttachRequest,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<super::turn::Attached, TurnError> {
        use super::turn::Attached;
        use crate::channels::twilio::media::inbound_media;
        if !patients.iter().any(|p| p.id == request.patient) {
            return Ok(Attached::Failed);
        }
        let fields = self.store.inbound_fields(clinic.id, &row.phone, request.message).await?.unwrap_or_default();
        let (Some(source), Some(media)) = (&self.media, inbound_media(&fields).into_iter().next()) else {
            warn!(conversation = %row.id, "a sent file cannot be fetched here (no media source or no media)");
            return Ok(Attached::Failed);
        };
        let (bytes, content_type) = match source.fetch(clinic.id, &media).await {
            Ok(got) => got,
            Err(e) => {
                warn!(conversation = %row.id, error = %e, "a sent file was not fetched");
                self.store.system_event(Some(clinic.id), crate::channels::twilio::media::EVENT_NOT_FETCHED, &e.to_string(), now).await?;
                return Ok(Attached::Failed);
            }
        };
        let digest = {
            use sha2::Digest;
            sha2::Sha256::digest(&bytes).iter().map(|b| format!("{b:02x}")).collect::<String>()
        };
        let photo = content_type.starts_with("image/");
        if let Some(existing) =
            self.store.documents(clinic.id, Some(request.patient)).await?.into_iter().find(|d| d.sha256 == digest && d.status != "refused")
        {
            return Ok(Attached::Added { needs_ocr: photo || existing.status == crate::documents::NEEDS_OCR });
        }
        let ext = match content_type.as_str() {
            "application/pdf" => "pdf",
            "image/jpeg" => "jpg",
            "image/png" => "png",
            _ => "txt",
        };
        let name = format!("document-{}-{}.{ext}", row.channel.as_str(), now.with_timezone(&clinic.timezone).format("%Y-%m-%d"));
        // In the patient's file now; read off this turn by a worker (the
        // patient is told if it cannot be read).
        let pending = crate::storage::PendingDocument {
            clinic: clinic.id,
            patient: Some(request.patient),
            file_name: &name,
            content_type: Some(&content_type),
            content: &bytes,
            sha256: &digest,
            source: row.channel.as_str(),
            conversation: Some(row.id),
        };
        self.store.queue_document(&pending, now).await?;
        Ok(Attached::Added { needs_ocr: photo })
    }

    /// Runs a document search the step asked for. The clinic's documents
    /// are searched with this message's text; a patient's file only for a
    /// patient linked to this phone (the step proved the rest), with the
    /// text of the message that asked, and only that patient's passages
    /// come back.
    async fn retrieve(
        &self,
        clinic: crate::domain::ClinicId,
        row: &ConversationRow,
        patients: &[crate::domain::Patient],
        message: Option<(i64, &str)>,
        query: DocumentQuery,
        policy: crate::domain::ModelPolicy,
    ) -> Result<Vec<crate::documents::Quote>, TurnError> {
        let question = match (query.message, message) {
            (None, Some((_, body))) => body.to_string(),
            (Some(id), Some((current, body))) if id == current => body.to_string(),
            (Some(id), _) => self.store.inbound_body(clinic, &row.phone, id).await?.unwrap_or_default(),
            (None, None) => String::new(),
        };
        let visible = match query.patient {
            None => crate::retrieval::Visibility { patients: Vec::new(), policy },
            Some(p) if patients.iter().any(|linked| linked.id == p) => crate::retrieval::Visibility { patients: vec![p], policy },
            Some(_) => return Ok(Vec::new()),
        };
        let k = if query.patient.is_some() { 20 } else { 3 };
        let mut found = self.library.search(&self.store, clinic, &question, &visible, k).await?;
        if let Some(p) = query.patient {
            let own = p.to_string();
            found.retain(|q| q.patient.as_deref() == Some(own.as_str()));
            // A patient's file is quoted, never interpreted: no model here.
            return Ok(found);
        }
        if let Some(model) = self.model.as_ref().filter(|m| m.allowed_by(policy))
            && !found.is_empty()
        {
            match model.answer(&question, &found, row.language).await {
                // Kept only when it leans on a passage that speaks of the question.
                Ok(g) if found[g.cited[0]].confident || found[g.cited[0]].relevant => {
                    let mut lead = found.remove(g.cited[0]);
                    lead.answer = Some(g.text);
                    lead.confident = true;
                    found.insert(0, lead);
                }
                Ok(_) => tracing::info!("model answer leaned on a passage that does not speak of the question; quoting instead"),
                Err(why) => tracing::info!(reason = why.kind(), "no model answer; quoting the best passage"),
            }
        }
        Ok(found)
    }

    async fn apply(
        &self,
        catalog: &ClinicCatalog,
        row: &ConversationRow,
        // The message answered: its id and text (kept as a feedback comment).
        (inbound_id, text): (i64, &str),
        outcome: Outcome,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Applied, TurnError> {
        // The state machine only names the sender's own appointments; check
        // again here, before the transaction (which holds SQLite's only connection).
        let changes_existing =
            outcome.effects.iter().any(|e| matches!(e, Effect::Cancel(_) | Effect::Move { .. } | Effect::ConfirmAttendance(_)));
        let owned: Vec<crate::domain::AppointmentId> = if changes_existing {
            self.store.upcoming_for_phone(catalog.clinic.id, &row.phone, now).await?.iter().map(|u| u.appointment.id).collect()
        } else {
            Vec::new()
        };
        // A slot taken in the doctor's Google Calendar since it was offered:
        // refused before anything is written, and recorded as busy so the
        // alternatives offered in the same turn avoid it.
        if let Some(google) = &self.google {
            for effect in &outcome.effects {
                let slot = match effect {
                    Effect::Book(req) => &req.slot,
                    Effect::Move { slot, .. } => slot,
                    _ => continue,
                };
                let busy = google.busy_now(catalog.clinic.id, slot.practitioner_id, slot.start, slot.end).await?;
                if !busy.is_empty() {
                    info!(conversation = %row.id, "slot busy in the practitioner's Google Calendar; proposing others");
                    return Ok(Applied::SlotTaken);
                }
            }
        }
        // An emergency reply is pushed hardest; a turn that changed an
        // appointment says so for as long as it can be delivered; the rest
        // (offers, questions) goes stale once the patient has moved on.
        let lifetime = if outcome.effects.iter().any(|e| matches!(e, Effect::Urgent)) {
            Lifetime::Urgent
        } else if outcome.effects.iter().any(|e| !matches!(e, Effect::Reply(_) | Effect::NeedsHuman)) {
            Lifetime::Lasting
        } else {
            Lifetime::Fleeting
        };
        let mut tx = self.store.begin().await?;
        let mut report = TurnReport::default();
        let mut saved = row.clone();
        let mut calendar_link = None;
        let mut keep_feedback = false;
        for effect in &outcome.effects {
            match effect {
                Effect::Book(req) => {
                    let patient_id = match &req.patient {
                        PatientChoice::Existing { id } => *id,
                        PatientChoice::New { first_name, last_name, birth_date, relation } => {
                            let id = Store::create_patient(
                                &mut tx,
                                catalog.clinic.id,
                                first_name,
                                last_name,
                                Some(*birth_date),
                                &row.phone,
                                now,
                            )
                            .await?
                            .id;
                            if let Some(relation) = relation {
                                Store::set_relation(&mut tx, catalog.clinic.id, id, &row.phone, *relation).await?;
                            }
                            id
                        }
                    };
                    let booking = BookRequest {
                        practitioner: req.slot.practitioner_id,
                        service: req.service,
                        mode: ConsultationMode::InPerson,
                        patient: patient_id,
                        start: req.slot.start,
                        source: "bot",
                        conversation: Some(row.id),
                    };
                    match scheduling::book(&mut tx, catalog, &booking, now).await {
                        Ok(id) => {
                            info!(conversation = %row.id, appointment = %id, "booked");
                            report.booked = true;
                            if let (Some(base), Some(token)) = (&self.calendar_base, Store::calendar_token_in(&mut tx, id).await?) {
                                let lang = if outcome.language == Lang::En { "?lang=en" } else { "" };
                                let url = format!("{base}/calendar/appointments/{token}.ics{lang}");
                                calendar_link = Some(texts::texts().render(outcome.language, "calendar_link", &[("url", &url)]));
                            }
                        }
                        Err(BookingError::Unavailable(why)) => {
                            info!(conversation = %row.id, reason = %why, "slot no longer bookable");
                            tx.rollback().await.map_err(StorageError::from)?;
                            return Ok(Applied::SlotTaken);
                        }
                        Err(e) => return Err(booking_error(e).into()),
                    }
                }
                Effect::Cancel(id) => {
                    if !owned.contains(id) {
                        warn!(conversation = %row.id, "cancel of an appointment not linked to this phone refused");
                        continue;
                    }
                    let done = scheduling::cancel(&mut tx, catalog.clinic.id, *id, "bot", now).await.map_err(booking_error)?;
                    info!(conversation = %row.id, appointment = %id, done, "cancelled");
                }
                Effect::Move { appointment, slot } => {
                    if !owned.contains(appointment) {
                        warn!(conversation = %row.id, "move of an appointment not linked to this phone refused");
                        continue;
                    }
                    let request = MoveRequest {
                        appointment: *appointment,
                        practitioner: Some(slot.practitioner_id),
                        start: slot.start,
                        source: "bot",
                    };
                    match scheduling::reschedule(&mut tx, catalog, &request, now).await {
                        Ok(_) => info!(conversation = %row.id, appointment = %appointment, "moved"),
                        Err(BookingError::Unavailable(why)) => {
                            info!(conversation = %row.id, reason = %why, "new time no longer bookable");
                            tx.rollback().await.map_err(StorageError::from)?;
                            return Ok(Applied::SlotTaken);
                        }
                        Err(e) => return Err(booking_error(e).into()),
                    }
                }
                Effect::Reply(body) => {
                    // The booking confirmation (the reply after the booking) carries the calendar link.
                    let body = match calendar_link.take() {
                        Some(link) => format!("{body}\n{link}"),
                        None => body.clone(),
                    };
                    for part in super::texts::split_for_sending(&body) {
                        let reply = NewOutbound {
                            clinic_id: catalog.clinic.id,
                            conversation_id: row.id,
                            inbound_id: Some(inbound_id),
                            channel: row.channel,
                            to: row.phone.clone(),
                            body: part,
                            author: "bot",
                            lifetime,
                        };
                        Store::insert_outbound(&mut tx, &reply, now).await?;
                        report.replies += 1;
                    }
                }
                Effect::NeedsHuman => {
                    if !saved.needs_human {
                        Store::record_activity(&mut tx, catalog.clinic.id, Activity::Handoff, "bot", now).await?;
                    }
                    saved.needs_human = true;
                }
                Effect::Urgent => {
                    warn!(conversation = %row.id, "possible emergency: staff alerted");
                    Store::record_activity(&mut tx, catalog.clinic.id, Activity::Emergency, "bot", now).await?;
                    saved.urgent = true;
                }
                Effect::ConfirmAttendance(id) => {
                    if !owned.contains(id) {
                        warn!(conversation = %row.id, "attendance of an appointment not linked to this phone refused");
                        continue;
                    }
                    let done = Store::confirm_attendance(&mut tx, catalog.clinic.id, *id, "patient", now).await?;
                    info!(conversation = %row.id, appointment = %id, done, "attendance confirmed");
                }
                Effect::ReminderAnswered { appointment, reply } => {
                    Store::note_reminder_reply(&mut tx, *appointment, reply.as_str(), now).await?;
                }
                Effect::Consent { opted_out } => {
                    let change = crate::storage::ConsentChange {
                        clinic: catalog.clinic.id,
                        phone: &row.phone,
                        channel: row.channel,
                        opted_out: *opted_out,
                        source: "keyword",
                        changed_by: None,
                    };
                    let changed = Store::set_consent(&mut tx, change, now).await?;
                    info!(conversation = %row.id, opted_out, changed, "consent to messages the clinic starts");
                }
                Effect::Feedback { request, answer, keep_waiting } => {
                    // Only the request this conversation was asked.
                    if row.awaiting_feedback != Some(*request) {
                        warn!(conversation = %row.id, "feedback for a request not awaited here refused");
                        continue;
                    }
                    if let Some(answer) = answer {
                        let recorded = Store::record_feedback(&mut tx, row.id, *request, *answer, text, now).await?;
                        info!(conversation = %row.id, feedback = request, recorded, "feedback answer");
                    }
                    keep_feedback = *keep_waiting;
                }
            }
        }
        // The next message after a reminder is read as an answer to it or
        // not at all; one queued since stays awaited.
        if let Some(reminder) = row.awaiting_reminder {
            Store::clear_awaiting_reminder(&mut tx, row.id, reminder).await?;
        }
        // Likewise a feedback request, unless its comment may come next.
        if let Some(request) = row.awaiting_feedback {
            Store::set_awaiting_feedback(&mut tx, row.id, request, keep_feedback).await?;
        }
        // A phone's first message records its consent to what the clinic
        // starts (reminders), with where it came from; a STOP is kept.
        if row.last_inbound_at.is_none() {
            Store::note_first_contact(&mut tx, catalog.clinic.id, &row.phone, row.channel, "inbound", now).await?;
        }
        saved.state_json = serde_json::to_string(&outcome.state).expect("state serialises");
        saved.flow = outcome.state.flow.kind().to_string();
        saved.language = outcome.language;
        saved.last_inbound_at = Some(now);
        Store::save_conversation(&mut tx, &saved, now).await?;
        if !Store::mark_inbound_processed(&mut tx, inbound_id, now).await? {
            tx.rollback().await.map_err(StorageError::from)?;
            return Ok(Applied::Done(TurnReport { already_processed: true, ..TurnReport::default() }));
        }
        tx.commit().await.map_err(StorageError::from)?;
        Ok(Applied::Done(report))
    }
}

/// What the turn read beside the conversation, for the step.
#[derive(Debug, Clone, Copy)]
struct Asked {
    now: chrono::DateTime<chrono::Utc>,
    opted_out: bool,
    reminded: Option<crate::domain::AppointmentId>,
    feedback: Option<crate::domain::AwaitedFeedback>,
}

/// The choice a template's quick-reply button stands for: its id is the
/// number ("1") or the word ("confirm", "cancel", "move").
fn button_choice(payload: &str) -> Option<u32> {
    match payload.to_ascii_lowercase().as_str() {
        "1" | "confirm" | "attend" | "yes" => Some(1),
        "2" | "cancel" => Some(2),
        "3" | "move" | "reschedule" => Some(3),
        _ => None,
    }
}

/// The clinic's names for the extractor.
/// What kind of file a media content type is, for the conversation.
fn attachment_kind(content_type: &str) -> super::turn::Attachment {
    use super::turn::Attachment;
    match content_type {
        "application/pdf" | "text/plain" => Attachment::Document,
        "image/jpeg" | "image/png" => Attachment::Photo,
        _ => Attachment::Unsupported,
    }
}

pub fn lexicon(catalog: &ClinicCatalog) -> ClinicLexicon {
    ClinicLexicon::for_catalog(catalog)
}

fn booking_error(e: BookingError) -> StorageError {
    match e {
        BookingError::Storage(e) => e,
        BookingError::NotFound(what) => StorageError::NotFound(what),
        BookingError::Unavailable(_) => StorageError::Conflict("slot"),
    }
}
