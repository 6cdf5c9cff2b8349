//! Files patients send on WhatsApp: added to the right patient's file only
//! after they say whose and yes; fetched only from the clinic's own Twilio
//! account, with its credentials; the wrong type, size, account or host
//! gets nothing fetched or stored.

use crate::helpers::*;

const AWA: &str = "+243990000101";

async fn book(app: &TestApp, phone: &str, name: &str, birth: &str) {
    for m in ["Bonjour, je voudrais un rdv demain matin pour une consultation", "1", name, birth, "oui"] {
        app.say(phone, m).await;
    }
}

async fn files_of(app: &TestApp, phone: &str) -> Vec<(String, Vec<nuru::storage::DocumentRecord>)> {
    let phone = nuru::domain::PhoneNumber::parse(phone).unwrap();
    let mut out = Vec::new();
    for p in app.store.patients_for_phone(app.clinic.clinic.id, &phone).await.unwrap() {
        out.push((p.first_name.clone(), app.store.documents(app.clinic.clinic.id, Some(p.id)).await.unwrap()));
    }
    out
}

const RESULT: &str = "Résultats NFS du 20/11/2026. Hémoglobine : 11,2 g/dL. Plaquettes : 240 000 /mm3.";

/// A PDF (here a text) sent with the message is added after a yes, fetched
/// with the clinic's credentials; then the patient's question finds it.
#[tokio::test]
async fn a_file_sent_on_whatsapp_is_added_to_the_patients_file_after_a_yes() {
    let app = spawn_app().await;
    book(&app, AWA, "Awa Mendy", "15/05/1990").await;
    let url = app.twilio.add_media(&app.twilio_url, "ME1", "text/plain", RESULT.as_bytes().to_vec());
    let r = app.say_with_media(AWA, "voici mes résultats", &[(&url, "text/plain")]).await.join("\n");
    assert!(r.contains("ajoute ce document au dossier de Awa Mendy"), "{r}");
    assert!(app.twilio.media_requests.lock().unwrap().is_empty(), "nothing fetched before the yes");
    let r = app.say(AWA, "oui").await.join("\n");
    assert!(r.contains("C'est fait") && r.contains("dossier de Awa"), "{r}");
    let files = files_of(&app, AWA).await;
    assert_eq!(files[0].1.len(), 1, "one document in Awa's file");
    assert_eq!((files[0].1[0].source.as_str(), files[0].1[0].status.as_str()), ("whatsapp", "indexed"));
    let requests = app.twilio.media_requests.lock().unwrap().clone();
    assert!(requests[0].0.contains(&format!("/Accounts/{DEMO_ACCOUNT}/")) && requests[0].1.starts_with("Basic "), "{requests:?}");
    assert!(requests.iter().any(|(p, _)| p == "/cdn/ME1"), "the redirect to the CDN was followed: {requests:?}");
    // The same file sent again is added once.
    app.say_with_media(AWA, "", &[(&url, "text/plain")]).await;
    app.say(AWA, "oui").await;
    assert_eq!(files_of(&app, AWA).await[0].1.len(), 1, "the same file twice is one document");
    // And it answers the patient's question, after proof.
    app.say(AWA, "mes résultats de la NFS sont arrivés ?").await;
    let r = app.say(AWA, "15/05/1990").await.join("\n");
    assert!(r.contains("11,2 g/dL"), "{r}");
}

/// A family phone says whose file first; "non" adds nothing and fetches
/// nothing; a photo is stored for OCR; a voice note is not a document.
#[tokio::test]
async fn a_family_phone_chooses_the_file_and_no_adds_nothing() {
    let app = spawn_app().await;
    book(&app, AWA, "Awa Mendy", "15/05/1990").await;
    app.add_patient("Grâce", "Mendy", Some((2016, 2, 2)), &[AWA]).await;
    assert_eq!(files_of(&app, AWA).await.len(), 2, "two patients on this phone");
    let photo = app.twilio.add_media(&app.twilio_url, "ME2", "image/jpeg", vec![0xff, 0xd8, 0xff, 0xe0, 1, 2, 3]);
    let r = app.say_with_media(AWA, "", &[(&photo, "image/jpeg")]).await.join("\n");
    assert!(r.contains("Dans quel dossier") && r.contains("1. Awa Mendy") && r.contains("2. Grâce Mendy"), "{r}");
    let r = app.say(AWA, "2").await.join("\n");
    assert!(r.contains("au dossier de Grâce Mendy"), "{r}");
    let r = app.say(AWA, "non").await.join("\n");
    assert!(r.contains("je ne l'ajoute pas"), "{r}");
    assert!(app.twilio.media_requests.lock().unwrap().is_empty(), "nothing fetched");
    assert!(files_of(&app, AWA).await.iter().all(|(_, docs)| docs.is_empty()));

    app.say_with_media(AWA, "", &[(&photo, "image/jpeg")]).await;
    app.say(AWA, "2").await;
    let r = app.say(AWA, "oui").await.join("\n");
    assert!(r.contains("la photo est ajoutée au dossier de Grâce"), "{r}");
    let files = files_of(&app, AWA).await;
    let grace = files.iter().find(|(n, _)| n == "Grâce").unwrap();
    assert_eq!((grace.1.len(), grace.1[0].status.as_str()), (1, "needs_ocr"));
    assert!(files.iter().find(|(n, _)| n == "Awa").unwrap().1.is_empty(), "never in the other file");

    let r = app.say_with_media(AWA, "", &[(&photo.replace("ME2", "ME3"), "audio/ogg")]).await.join("\n");
    assert!(r.contains("que des documents (PDF) ou des photos"), "{r}");
}

/// Only the clinic's own Twilio media are fetched: another account's URL,
/// another host, a type or size beyond the limits — nothing stored, the
/// team told, and the other host never called.
#[tokio::test]
async fn media_of_another_account_or_host_or_too_large_is_never_stored() {
    let app = spawn_app().await;
    book(&app, AWA, "Awa Mendy", "15/05/1990").await;
    // Another host that would serve anything.
    let hits = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = hits.clone();
    let other = axum::Router::new().fallback(move || {
        counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        async { ([("content-type", "text/plain")], RESULT) }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let other_url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, other).await.unwrap() });

    app.twilio.add_media(&app.twilio_url, "ME4", "text/plain", RESULT.as_bytes().to_vec());
    let big = app.twilio.add_media(&app.twilio_url, "ME5", "application/pdf", vec![b'%'; nuru::documents::MAX_DOCUMENT_BYTES + 1]);
    let wrong_type = app.twilio.add_media(&app.twilio_url, "ME6", "application/zip", b"PK".to_vec());
    let cases = [
        format!("{}/2010-04-01/Accounts/ACother000000000000000000000000000/Messages/MM4/Media/ME4", app.twilio_url),
        format!("{other_url}/2010-04-01/Accounts/{DEMO_ACCOUNT}/Messages/MM4/Media/ME4"),
        big,
        wrong_type,
    ];
    for url in &cases {
        let said = if url.contains("ME6") { "application/pdf" } else { "text/plain" };
        let r = app.say_with_media(AWA, "", &[(url, said)]).await.join("\n");
        assert!(r.contains("au dossier de Awa Mendy"), "{url}: {r}");
        let r = app.say(AWA, "oui").await.join("\n");
        assert!(r.contains("Je n'ai pas pu ajouter ce document"), "{url}: {r}");
    }
    assert_eq!(hits.load(std::sync::atomic::Ordering::SeqCst), 0, "another host is never called");
    assert!(
        app.twilio.media_requests.lock().unwrap().iter().all(|(p, _)| !p.contains("ACother")),
        "another account's media is never requested"
    );
    assert!(files_of(&app, AWA).await[0].1.is_empty(), "nothing stored");
    let events = app.store.system_events(Some(app.clinic.clinic.id), 50, None).await.unwrap();
    // Recorded for staff (at most once a minute per kind, with no content).
    assert!(events.iter().any(|e| e.kind == "media_not_fetched" && e.detail == "not this clinic's Twilio media URL"), "{events:?}");
}

/// A decompression bomb (a 70 kB PDF whose page unpacks to 24 MB) sent on
/// WhatsApp is refused with the usual clear answer and nothing is stored,
/// while webhooks keep being acknowledged during its turn.
#[tokio::test]
async fn a_decompression_bomb_is_refused_and_webhooks_keep_their_acknowledgement() {
    let app = spawn_app().await;
    book(&app, AWA, "Awa Mendy", "15/05/1990").await;
    let bomb = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/hostile/decompression-bomb.pdf")).unwrap();
    assert!(bomb.len() < 100_000, "{} bytes", bomb.len());

    let url = app.twilio.add_media(&app.twilio_url, "MEBOMB", "application/pdf", bomb);
    let r = app.say_with_media(AWA, "voici mon scanner", &[(&url, "application/pdf")]).await.join("\n");
    assert!(r.contains("au dossier de Awa Mendy"), "{r}");
    // Other patients write while the bomb's turn runs.
    let app = &app;
    let others = (0..30).map(|i| {
        let fields = app.whatsapp_fields(&app.next_sid(), &format!("+24399{i:07}"), "bonjour");
        async move { app.post_signed(&fields).await.status().as_u16() }
    });
    let answer = async {
        let response = app.post_signed(&app.whatsapp_fields(&app.next_sid(), AWA, "oui")).await;
        assert_eq!(response.status(), 200);
        app.workers.run_until_idle().await.unwrap();
    };
    let (statuses, ()) = tokio::join!(futures_util::future::join_all(others), answer);
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    let bodies = app.twilio.bodies().join("\n");
    // The yes is answered at once (the file is kept, to be read off the
    // turn); the reading refuses it, and the patient and staff learn it.
    assert!(bodies.contains("C'est fait : le document est ajouté au dossier de Awa"), "{bodies}");
    assert!(bodies.contains("Je n'ai pas pu lire le document que vous avez envoyé"), "{bodies}");
    let files = files_of(app, AWA).await;
    assert_eq!(files[0].1.len(), 1);
    assert_eq!((files[0].1[0].status.as_str(), files[0].1[0].passages), ("refused", 0), "kept, refused, nothing searchable");
    let dead = app.store.dead_jobs(&nuru::storage::DOCUMENT_READS, 10).await.unwrap();
    assert!(dead.len() == 1 && dead[0].reason.contains("too big to read"), "{dead:?}");
    let events = app.store.system_events(Some(app.clinic.clinic.id), 50, None).await.unwrap();
    assert!(events.iter().any(|e| e.detail.contains("too big to read")), "staff see why: {events:?}");
    let inbox = app
        .store
        .conversation_for(
            app.clinic.clinic.id,
            nuru::domain::Channel::WhatsApp,
            &nuru::domain::PhoneNumber::parse(AWA).unwrap(),
            nuru::domain::Lang::Fr,
            "{}",
            app.clock.now(),
        )
        .await
        .unwrap();
    assert!(inbox.needs_human, "the conversation is in front of staff");
}

/// A long document is written in batches, searchable only once whole; a
/// read cut short (its node gone) is read again by another, whole, once.
#[tokio::test]
async fn a_long_document_is_read_in_batches_and_a_read_cut_short_is_read_again_once() {
    let app = spawn_app().await;
    let clinic = app.clinic.clinic.id;
    let text: String = (0..1500)
        .map(|i| format!("Consigne {i} : le service de garde numéro {i} ouvre à {} heures et se trouve au bâtiment {}.\n\n", i % 24, i % 7))
        .collect();
    let expected = nuru::documents::ingest("consignes.txt", Some("text/plain"), text.as_bytes()).unwrap().passages.len();
    assert!(expected > nuru::worker::PASSAGE_BATCH, "{expected} passages: more than one batch");
    let pending = nuru::storage::PendingDocument {
        clinic,
        patient: None,
        file_name: "consignes.txt",
        content_type: Some("text/plain"),
        content: text.as_bytes(),
        sha256: "0",
        source: "cli",
        conversation: None,
    };
    app.store.queue_document(&pending, app.clock.now()).await.unwrap();
    // Node A reads and writes one batch, then is gone.
    let now = app.clock.now();
    let mut a = app.store.claim_document_read(now, now + chrono::Duration::seconds(60)).await.unwrap().expect("due");
    let first = nuru::documents::ingest("consignes.txt", Some("text/plain"), text.as_bytes()).unwrap();
    let batch = &first.passages[..nuru::worker::PASSAGE_BATCH];
    assert!(app.store.write_passages(&mut a, 0, batch, None, now + chrono::Duration::seconds(60)).await.unwrap());
    assert!(
        app.store.passages(clinic).await.unwrap().iter().all(|p| p.document.to_string() != a.id.to_string()),
        "half a document is not searched"
    );
    // Past A's lease, the workers read it again, whole.
    app.clock.advance(chrono::Duration::seconds(61));
    assert_eq!(app.workers.read_next_document().await.unwrap(), Some(nuru::worker::Read::Indexed(expected)));
    let late = &first.passages[nuru::worker::PASSAGE_BATCH..];
    assert!(
        !app.store.write_passages(&mut a, nuru::worker::PASSAGE_BATCH, late, None, app.clock.now()).await.unwrap(),
        "A's late batch is refused"
    );
    let ours: Vec<_> =
        app.store.passages(clinic).await.unwrap().into_iter().filter(|p| p.document.to_string() == a.id.to_string()).collect();
    assert_eq!(ours.len(), expected, "every passage once");
    let docs = app.store.documents(clinic, None).await.unwrap();
    let doc = docs.iter().find(|d| d.id.to_string() == a.id.to_string()).unwrap();
    assert_eq!((doc.status.as_str(), doc.passages), ("indexed", expected as i64));
    assert_eq!(app.workers.read_next_document().await.unwrap(), None, "nothing left to read");
}
