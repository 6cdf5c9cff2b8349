//! The admin API's records: clinic settings and credentials, practitioners,
//! services, windows, patients and phones (with erasure), statistics. Each
//! change is checked where it matters: in what the bot says, in the slots the
//! engine offers, in what the webhook accepts. SQLite and PostgreSQL.

use crate::admin::{Admin, PASSWORD, setup};
use crate::helpers::*;
use nuru::channels::twilio::compute_signature;
use nuru::domain::PhoneNumber;
use nuru::storage::{ClinicRole, Membership};
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn slot_count(a: &Admin, token: &str, clinic: &str, service: &str, day: &str) -> (StatusCode, usize) {
    let (status, v) = a.send("get", token, &format!("/api/clinics/{clinic}/slots?service_id={service}&from={day}&to={day}"), None).await;
    (status, v.as_array().map_or(0, Vec::len))
}

#[tokio::test]
async fn admins_change_settings_and_credentials_and_the_bot_and_webhook_follow() {
    let a = setup().await;
    let demo = a.app.clinic.clinic.id.to_string();
    let admin = a.token("admin@demo.org").await;
    let path = format!("/api/clinics/{demo}");
    let (status, v) = a
        .send(
            "patch",
            &admin,
            &path,
            Some(json!({
                "name": "Clinique Nuru Gombe",
                "answers": [{"topic": "parking", "fr": "Parking gratuit dans la cour.", "en": "Free parking in the yard."}],
                "opening_days": [1, 2, 3, 4, 5],
                "phone": ""
            })),
        )
        .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["name"], "Clinique Nuru Gombe");
    assert_eq!(v["opening_days"], json!([1, 2, 3, 4, 5]));
    assert_eq!(v["phone"], Value::Null, "an empty string clears");
    assert_eq!(v["slug"], "demo", "unchanged");
    let replies = a.app.say("+243990000020", "est-ce qu'il y a un parking ?").await;
    assert!(replies.iter().any(|r| r.contains("Parking gratuit dans la cour")), "{replies:?}");

    for (body, field) in [
        (json!({"timezone": "Mars/Olympus"}), "timezone"),
        (json!({"booking_horizon_days": 0}), "booking_horizon_days"),
        (json!({"opening_days": [8]}), "opening_days"),
        (json!({"whatsapp_number": "0812345678"}), "whatsapp_number"),
        (json!({"name": "  "}), "name"),
        (json!({"default_language": "de"}), "default_language"),
    ] {
        let (status, v) = a.send("patch", &admin, &path, Some(body.clone())).await;
        assert_eq!(status, 422, "{body}");
        assert_eq!(v["error"]["field"], field, "{body}: {v}");
    }
    for sneaky in [json!({"slug": "other"}), json!({"id": a.other_clinic}), json!({"twilio_account_sid": "AC00"})] {
        let (status, _) = a.send("patch", &admin, &path, Some(sneaky.clone())).await;
        assert_eq!(status, 422, "mass assignment: {sneaky}");
    }
    let staff = a.token("staff@demo.org").await;
    assert_eq!(a.send("patch", &staff, &path, Some(json!({"name": "x"}))).await.0, 403, "clinic admins only");

    // Credentials: write-only, encrypted at rest, and used by the webhook at once.
    let sid = format!("AC{}", "ab".repeat(16));
    let token = "N3wTwilioAuthToken0123456789abcd";
    let creds = format!("{path}/channels/twilio");
    assert_eq!(a.send("put", &admin, &creds, Some(json!({"account_sid": "AC12", "auth_token": token}))).await.0, 422);
    assert_eq!(a.send("put", &admin, &creds, Some(json!({"account_sid": sid, "auth_token": token}))).await.0, 204);
    let (_, v) = a.send("get", &admin, &path, None).await;
    assert_eq!(v["twilio_account_sid"], sid.as_str());
    assert!(!v.to_string().contains(token), "the token is never shown");
    let stored = a.app.store.twilio_credentials(a.app.clinic.clinic.id).await.unwrap().unwrap();
    assert!(!stored.auth_token_encrypted.contains(token), "encrypted at rest");
    let old = a.app.post_signed(&a.app.whatsapp_fields(&a.app.next_sid(), "+243990000021", "bonjour")).await;
    assert_eq!(old.status(), 403, "the old token no longer signs");
    let mut fields = a.app.whatsapp_fields(&a.app.next_sid(), "+243990000021", "bonjour");
    for (k, v) in fields.iter_mut() {
        if k == "AccountSid" {
            *v = sid.clone();
        }
    }
    let signature = compute_signature(&format!("{PUBLIC_BASE}{}", a.app.webhook_path()), &fields, token);
    assert_eq!(a.app.post_raw(&fields, Some(&signature)).await.status(), 200, "the new one does");

    // Superadmins create clinics; clinic admins cannot.
    let root = a.token("root@example.org").await;
    let new = json!({"slug": "kisangani", "name": "Clinique de Kisangani", "timezone": "Africa/Lubumbashi", "emergency_number": "112"});
    assert_eq!(a.send("post", &admin, "/api/clinics", Some(new.clone())).await.0, 403);
    let (status, v) = a.send("post", &root, "/api/clinics", Some(new.clone())).await;
    assert_eq!(status, 201, "{v}");
    assert_eq!(v["timezone"], "Africa/Lubumbashi");
    assert_eq!(a.send("post", &root, "/api/clinics", Some(new)).await.0, 409, "slugs are unique");
    let bad = json!({"slug": "Bad Slug", "name": "x", "timezone": "Africa/Douala", "emergency_number": "112"});
    assert_eq!(a.send("post", &root, "/api/clinics", Some(bad)).await.1["error"]["field"], "slug");
}

#[tokio::test]
async fn admins_shape_practitioners_services_and_windows_and_the_engine_follows() {
    let a = setup().await;
    let demo = a.app.clinic.clinic.id.to_string();
    let admin = a.token("admin@demo.org").await;
    let base = format!("/api/clinics/{demo}");
    let (status, v) = a
        .send(
            "post",
            &admin,
            &format!("{base}/practitioners"),
            Some(json!({"title": "Dr", "first_name": "Esther", "last_name": "Ngalula"})),
        )
        .await;
    assert_eq!(status, 201, "{v}");
    let esther = v["id"].as_str().unwrap().to_string();
    let (status, v) = a
        .send(
            "post",
            &admin,
            &format!("{base}/services"),
            Some(json!({"name_fr": "kinésithérapie", "name_en": "physiotherapy", "duration_minutes": 30, "price": "20 000 CDF",
                        "practitioners": [{"practitioner_id": esther}]})),
        )
        .await;
    assert_eq!(status, 201, "{v}");
    let physio = v["id"].as_str().unwrap().to_string();
    assert_eq!(slot_count(&a, &admin, &demo, &physio, "2026-11-24").await, (StatusCode::OK, 0), "no window yet");

    // Tuesday 9:00–12:00, this service only.
    let window = json!({"practitioner_id": esther, "weekday": 2, "start_minute": 540, "end_minute": 720, "service_ids": [physio]});
    let (status, v) = a.send("post", &admin, &format!("{base}/windows"), Some(window)).await;
    assert_eq!(status, 201, "{v}");
    let window_id = v["id"].as_str().unwrap().to_string();
    assert_eq!(slot_count(&a, &admin, &demo, &physio, "2026-11-24").await.1, 6);
    let (_, windows) = a.send("get", &admin, &format!("{base}/windows"), None).await;
    assert!(windows.as_array().unwrap().iter().any(|w| w["id"] == window_id.as_str() && w["start_minute"] == 540));

    assert_eq!(a.send("patch", &admin, &format!("{base}/services/{physio}"), Some(json!({"duration_minutes": 60}))).await.0, 204);
    assert_eq!(slot_count(&a, &admin, &demo, &physio, "2026-11-24").await.1, 3, "longer sessions, fewer slots");

    // Bad input names its field; another clinic's objects are refused; so are unknown fields.
    let kabeya_of_other = {
        let other = a.app.store.catalog(a.other_clinic).await.unwrap();
        other.practitioners[0].id.to_string()
    };
    for (path, body, field) in [
        ("windows", json!({"practitioner_id": esther, "weekday": 2, "start_minute": 720, "end_minute": 540}), "end_minute"),
        ("windows", json!({"practitioner_id": esther, "weekday": 9, "start_minute": 0, "end_minute": 60}), "weekday"),
        ("windows", json!({"practitioner_id": kabeya_of_other, "weekday": 2, "start_minute": 540, "end_minute": 600}), "practitioner_id"),
        (
            "services",
            json!({"name_fr": "x", "name_en": "x", "duration_minutes": 30, "practitioners": [{"practitioner_id": kabeya_of_other}]}),
            "practitioners",
        ),
        ("services", json!({"name_fr": "x", "name_en": "x", "duration_minutes": 2}), "duration_minutes"),
        ("services", json!({"name_fr": "x", "duration_minutes": 30}), "name_en"),
        ("practitioners", json!({"first_name": "Paul"}), "last_name"),
        ("practitioners", json!({"first_name": "Paul", "last_name": "Ilunga", "clinic_id": a.other_clinic}), "body"),
    ] {
        let (status, v) = a.send("post", &admin, &format!("{base}/{path}"), Some(body.clone())).await;
        assert_eq!(status, 422, "{path} {body}: {v}");
        assert_eq!(v["error"]["field"], field, "{path} {body}: {v}");
    }
    let staff = a.token("staff@demo.org").await;
    assert_eq!(a.send("post", &staff, &format!("{base}/practitioners"), Some(json!({"first_name": "P", "last_name": "Q"}))).await.0, 403);

    // A booked appointment keeps its practitioner and service in service.
    let (_, v) = a.send("post", &admin, &format!("{base}/patients"), Some(json!({"first_name": "Jonas", "last_name": "Kalala"}))).await;
    let patient = v["id"].as_str().unwrap().to_string();
    let (status, v) = a
        .send(
            "post",
            &admin,
            &format!("{base}/appointments"),
            Some(json!({"practitioner_id": esther, "service_id": physio, "patient_id": patient, "starts_at": "2026-11-24T08:00:00Z"})),
        )
        .await;
    assert_eq!(status, 201, "{v}");
    let appointment = v["id"].as_str().unwrap().to_string();
    assert_eq!(a.send("patch", &admin, &format!("{base}/practitioners/{esther}"), Some(json!({"active": false}))).await.0, 409);
    assert_eq!(a.send("delete", &admin, &format!("{base}/practitioners/{esther}"), None).await.0, 409);
    assert_eq!(a.send("delete", &admin, &format!("{base}/services/{physio}"), None).await.0, 409);
    assert_eq!(a.send("post", &admin, &format!("{base}/appointments/{appointment}/cancel"), None).await.0, 204);

    // Retired: no longer listed, searched or bookable; the practitioner is archived.
    assert_eq!(a.send("delete", &admin, &format!("{base}/services/{physio}"), None).await.0, 204);
    let (_, services) = a.send("get", &admin, &format!("{base}/services"), None).await;
    assert!(!services.as_array().unwrap().iter().any(|s| s["id"] == physio.as_str()));
    assert_eq!(slot_count(&a, &admin, &demo, &physio, "2026-11-24").await.0, 422);
    assert_eq!(a.send("delete", &admin, &format!("{base}/practitioners/{esther}"), None).await.0, 204);
    let (_, practitioners) = a.send("get", &admin, &format!("{base}/practitioners"), None).await;
    let archived = practitioners.as_array().unwrap().iter().find(|p| p["id"] == esther.as_str()).unwrap();
    assert_eq!(archived["active"], false);
    assert_eq!(a.send("delete", &admin, &format!("{base}/windows/{window_id}"), None).await.0, 204);
    assert_eq!(a.send("delete", &admin, &format!("{base}/windows/{window_id}"), None).await.0, 404);
    // Each change left one audit row, written with it; the refused second delete left none.
    let root = a.token("root@example.org").await;
    let (_, events) = a.send("get", &root, &format!("/api/audit?clinic_id={demo}&limit=1000"), None).await;
    let count = |action: &str, resource: &str, id: &str| {
        events.as_array().unwrap().iter().filter(|e| e["action"] == action && e["resource"] == resource && e["resource_id"] == id).count()
    };
    assert_eq!(count("delete", "window", &window_id), 1);
    assert_eq!(count("create", "window", &window_id), 1);
    assert_eq!(count("archive", "practitioner", &esther), 1);

    // Renaming a practitioner is what the bot says next, though the worker
    // holds the catalog in memory from the turn before.
    let kabeya = a.app.clinic.practitioners.iter().find(|p| p.last_name == "Kabeya").unwrap().id;
    let replies = a.app.say("+243990000022", "quels sont les médecins ?").await;
    assert!(!replies.iter().any(|r| r.contains("Kabeya-Tshala")), "{replies:?}");
    assert_eq!(
        a.send("patch", &admin, &format!("{base}/practitioners/{kabeya}"), Some(json!({"last_name": "Kabeya-Tshala"}))).await.0,
        204
    );
    let replies = a.app.say("+243990000022", "quels sont les médecins ?").await;
    assert!(replies.iter().any(|r| r.contains("Kabeya-Tshala")), "{replies:?}");
}

#[tokio::test]
async fn staff_find_create_correct_and_link_patients_and_every_read_is_audited() {
    let a = setup().await;
    let tomorrow = (a.app.clock.now() + chrono::Duration::days(2)).date_naive().to_string();
    let demo = a.app.clinic.clinic.id;
    let base = format!("/api/clinics/{demo}");
    let staff = a.token("staff@demo.org").await;
    let body = json!({"first_name": "Aïcha", "last_name": "Mendy", "birth_date": "2019-04-02", "phones": ["+243990000030"]});
    let (status, v) = a.send("post", &staff, &format!("{base}/patients"), Some(body)).await;
    assert_eq!(status, 201, "{v}");
    let id = v["id"].as_str().unwrap().to_string();
    for (body, field) in [
        (json!({"first_name": "A", "last_name": "B", "phones": ["0990000030"]}), "phones"),
        (json!({"first_name": "A", "last_name": "B", "birth_date": tomorrow}), "birth_date"),
        (json!({"first_name": "A"}), "last_name"),
    ] {
        let (status, v) = a.send("post", &staff, &format!("{base}/patients"), Some(body.clone())).await;
        assert_eq!((status, v["error"]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some(field)), "{body}");
    }

    let (_, page) = a.send("get", &staff, &format!("{base}/patients?q=MENDY"), None).await;
    assert_eq!(page["items"][0]["id"], id.as_str());
    let (_, page) = a.send("get", &staff, &format!("{base}/patients?phone=%2B243990000030"), None).await;
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
    let (_, page) = a.send("get", &staff, &format!("{base}/patients?q=nobody"), None).await;
    assert!(page["items"].as_array().unwrap().is_empty());
    assert_eq!(
        a.send("get", &staff, &format!("{base}/patients?q=%25"), None).await.1["items"].as_array().unwrap().len(),
        0,
        "% is literal"
    );

    assert_eq!(a.send("patch", &staff, &format!("{base}/patients/{id}"), Some(json!({"last_name": "Mendy Sow"}))).await.0, 204);
    assert_eq!(a.send("patch", &staff, &format!("{base}/patients/{id}"), Some(json!({"clinic_id": a.other_clinic}))).await.0, 422);
    assert_eq!(a.send("post", &staff, &format!("{base}/patients/{id}/phones"), Some(json!({"phone": "+243990000031"}))).await.0, 204);
    let second = PhoneNumber::parse("+243990000031").unwrap();
    assert_eq!(a.app.store.patients_for_phone(demo, &second).await.unwrap()[0].last_name, "Mendy Sow", "the bot now knows this phone");
    let (status, v) = a.send("get", &staff, &format!("{base}/patients/{id}"), None).await;
    assert_eq!(status, 200);
    assert_eq!(v["phones"], json!(["+243990000030", "+243990000031"]));
    assert_eq!(v["birth_date"], "2019-04-02");
    assert_eq!(a.send("delete", &staff, &format!("{base}/patients/{id}/phones/%2B243990000031"), None).await.0, 204);
    assert_eq!(a.send("delete", &staff, &format!("{base}/patients/{id}/phones/%2B243990000031"), None).await.0, 404);
    assert!(a.app.store.patients_for_phone(demo, &second).await.unwrap().is_empty());

    let doctor = a.token("doctor@demo.org").await;
    assert_eq!(a.send("get", &doctor, &format!("{base}/patients"), None).await.0, 403, "practitioners see their agenda, not the registry");
    let root = a.token("root@example.org").await;
    let (_, events) = a.send("get", &root, &format!("/api/audit?clinic_id={demo}"), None).await;
    let events = events.as_array().unwrap();
    for action in ["create", "list", "read", "update", "link_phone", "unlink_phone"] {
        assert!(
            events.iter().any(|e| e["action"] == action && e["resource"].as_str().unwrap().starts_with("patient")),
            "{action} audited: {events:?}"
        );
    }
    assert!(!serde_json::to_string(events).unwrap().contains("Aïcha"), "the trail holds no patient data");
}

#[tokio::test]
async fn erasing_a_patient_frees_their_time_and_blanks_them_everywhere() {
    let a = setup().await;
    let demo = a.app.clinic.clinic.id;
    let base = format!("/api/clinics/{demo}");
    let phone = "+243990000040";
    a.app.say(phone, "je voudrais une consultation vendredi à 10h").await;
    a.app.say(phone, "Awa Ilunga, 15/05/1990").await;
    let confirmed = a.app.say(phone, "oui").await;
    assert!(!confirmed.is_empty());
    let admin = a.token("admin@demo.org").await;
    let (_, page) = a.send("get", &admin, &format!("{base}/patients?q=awa"), None).await;
    let id = page["items"][0]["id"].as_str().unwrap().to_string();
    let (_, detail) = a.send("get", &admin, &format!("{base}/patients/{id}"), None).await;
    assert_eq!(detail["appointments"][0]["status"], "booked");

    // A result in the patient's file, and one of the clinic's documents.
    let patient = nuru::domain::PatientId::parse(&id).unwrap();
    let mut doc_ids = Vec::new();
    for (owner, name, text) in
        [(Some(patient), "nfs.txt", "Hémoglobine 11,2 g/dL"), (None, "tarifs.txt", "Radiographie du thorax 25 000 CDF")]
    {
        let file = nuru::retrieval::NewFile {
            clinic: demo,
            patient: owner,
            file_name: name,
            content_type: None,
            bytes: text.as_bytes(),
            source: "admin",
            actor: None,
        };
        doc_ids.push(
            nuru::retrieval::add_document(&a.app.store, &nuru::retrieval::Library::new(), &file, None, a.app.clock.now()).await.unwrap().0,
        );
    }

    let staff = a.token("staff@demo.org").await;
    assert_eq!(a.send("delete", &staff, &format!("{base}/patients/{id}"), None).await.0, 403, "clinic admins only");
    let (status, report) = a.send("delete", &admin, &format!("{base}/patients/{id}"), None).await;
    assert_eq!(status, 200);
    assert_eq!(report, json!({"cancelled_appointments": 1, "phones_unlinked": 1, "conversations_blanked": 1, "documents_deleted": 1}));
    // The patient's document and its passages are gone; the clinic's stay.
    assert!(a.app.store.document(demo, doc_ids[0]).await.unwrap().is_none());
    assert!(a.app.store.document(demo, doc_ids[1]).await.unwrap().is_some());
    let passages = a.app.store.passages(demo).await.unwrap();
    assert!(passages.iter().all(|p| p.patient.is_none()) && passages.len() == 1, "{passages:?}");

    assert_eq!(a.send("get", &admin, &format!("{base}/patients/{id}"), None).await.0, 404);
    assert!(a.send("get", &admin, &format!("{base}/patients?q=awa"), None).await.1["items"].as_array().unwrap().is_empty());
    let all = a.app.store.appointments(demo).await.unwrap();
    assert_eq!(all[0].status, nuru::domain::AppointmentStatus::Cancelled, "the time is free again");
    let (_, conversations) = a.send("get", &admin, &format!("{base}/conversations"), None).await;
    let conversation = conversations["items"][0]["id"].as_str().unwrap().to_string();
    let (_, messages) = a.send("get", &admin, &format!("{base}/conversations/{conversation}/messages"), None).await;
    assert!(!messages.as_array().unwrap().is_empty());
    assert!(messages.as_array().unwrap().iter().all(|m| m["body"] == ""), "{messages}");
    assert!(a.app.store.patients_for_phone(demo, &PhoneNumber::parse(phone).unwrap()).await.unwrap().is_empty());
    // The phone starts afresh: the bot no longer knows who writes.
    let replies = a.app.say(phone, "mes rendez-vous").await;
    assert!(!replies.iter().any(|r| r.contains("Awa")), "{replies:?}");
    let (_, stats) = a.send("get", &admin, &format!("{base}/stats?from=2026-11-20&to=2026-11-30"), None).await;
    assert_eq!(stats["cancellations_by_staff"], 1);
    assert_eq!(a.send("delete", &admin, &format!("{base}/patients/{}", uuid::Uuid::new_v4()), None).await.0, 404);
}

#[tokio::test]
async fn stats_count_moves_cancellations_and_handoffs_by_bot_and_staff() {
    let a = setup().await;
    let demo = a.app.clinic.clinic.id;
    let base = format!("/api/clinics/{demo}");
    let phone = "+243990000050";
    a.app.say(phone, "je voudrais une consultation vendredi à 10h").await;
    a.app.say(phone, "Awa Ilunga, 15/05/1990").await;
    a.app.say(phone, "oui").await;
    let staff = a.token("staff@demo.org").await;
    let appointment = a.app.store.appointments(demo).await.unwrap()[0].id;
    let (status, v) = a
        .send("post", &staff, &format!("{base}/appointments/{appointment}/move"), Some(json!({"starts_at": "2026-11-27T10:00:00Z"})))
        .await;
    assert_eq!(status, 204, "{v}");
    // The patient cancels through the bot.
    a.app.say(phone, "je veux annuler mon rendez-vous").await;
    a.app.say(phone, "oui").await;
    assert_eq!(a.app.store.appointments(demo).await.unwrap()[0].status, nuru::domain::AppointmentStatus::Cancelled);
    // One conversation asks for a human, another is taken over by staff.
    a.app.say("+243990000051", "je veux parler à quelqu'un").await;
    a.app.say("+243990000052", "bonjour").await;
    let (_, page) = a.send("get", &staff, &format!("{base}/conversations?state=idle"), None).await;
    let idle: Vec<&Value> = page["items"].as_array().unwrap().iter().collect();
    assert!(idle.iter().all(|c| c["state"] == "idle"));
    let taken = idle.iter().find(|c| c["phone"].as_str().unwrap().ends_with("52")).unwrap()["id"].as_str().unwrap().to_string();
    assert_eq!(a.send("post", &staff, &format!("{base}/conversations/{taken}/take-over"), None).await.0, 204);
    let (_, handed) = a.send("get", &staff, &format!("{base}/conversations?state=handed_off"), None).await;
    assert_eq!(handed["items"].as_array().unwrap().len(), 2, "{handed}");
    let (_, later) = a.send("get", &staff, &format!("{base}/conversations?from=2026-12-01"), None).await;
    assert!(later["items"].as_array().unwrap().is_empty(), "date filter");

    let admin = a.token("admin@demo.org").await;
    let (_, stats) = a.send("get", &admin, &format!("{base}/stats?from=2026-11-20&to=2026-11-30"), None).await;
    assert_eq!(stats["bookings_by_bot"], 1, "{stats}");
    assert_eq!(stats["moves_by_staff"], 1, "{stats}");
    assert_eq!(stats["moves_by_bot"], 0, "{stats}");
    assert_eq!(stats["cancellations_by_bot"], 1, "{stats}");
    assert_eq!(stats["cancellations_by_staff"], 0, "{stats}");
    assert_eq!(stats["handoffs"], 2, "{stats}");
    assert_eq!(stats["emergencies"], 0, "{stats}");
    assert_eq!(stats["model_calls"], 0, "no model configured");
    let root = a.token("root@example.org").await;
    let (status, metrics) = a.send("get", &root, "/api/model/metrics", None).await;
    assert_eq!((status, metrics["configured"].as_bool()), (StatusCode::OK, Some(false)));
    assert_eq!(a.send("get", &admin, "/api/model/metrics", None).await.0, 403);
}

/// The worker keeps each clinic's catalog in memory and reloads it when the
/// clinic's catalog version moved: every change the conversation can see
/// must move it, in the change's own transaction.
#[tokio::test]
async fn every_catalog_change_moves_the_catalog_version() {
    let a = setup().await;
    let demo = a.app.clinic.clinic.id;
    let base = format!("/api/clinics/{demo}");
    let admin = a.token("admin@demo.org").await;
    let practitioner = a.app.clinic.practitioners[0].id.to_string();
    let service = a.app.clinic.services[0].id.to_string();
    let later = |days: i64| (a.app.clock.now() + chrono::Duration::days(days)).date_naive().to_string();
    let mut version = a.app.store.catalog_version(demo).await.unwrap();
    let mut change = async |what: &str, method: &str, path: String, body: Option<Value>| -> Value {
        let (status, v) = a.send(method, &admin, &path, body).await;
        assert!(status.is_success(), "{what}: {status} {v}");
        let now = a.app.store.catalog_version(demo).await.unwrap();
        assert!(now > version, "{what} left the catalog version at {version}");
        version = now;
        v
    };
    change("settings", "patch", base.clone(), Some(json!({"name": "Clinique renommée"}))).await;
    let p =
        change("new practitioner", "post", format!("{base}/practitioners"), Some(json!({"first_name": "Esther", "last_name": "Mbuyi"})))
            .await;
    let new_practitioner = p["id"].as_str().unwrap().to_string();
    change("practitioner renamed", "patch", format!("{base}/practitioners/{practitioner}"), Some(json!({"title": "Pr"}))).await;
    let s = change(
        "new service",
        "post",
        format!("{base}/services"),
        Some(json!({"name_fr": "Kiné", "name_en": "Physio", "duration_minutes": 30, "practitioners": [{"practitioner_id": new_practitioner}]})),
    )
    .await;
    let new_service = s["id"].as_str().unwrap().to_string();
    change("service changed", "patch", format!("{base}/services/{service}"), Some(json!({"duration_minutes": 25}))).await;
    let w = change(
        "new window",
        "post",
        format!("{base}/windows"),
        Some(json!({"practitioner_id": new_practitioner, "weekday": 6, "start_minute": 540, "end_minute": 720, "service_ids": [new_service]})),
    )
    .await;
    let window = w["id"].as_str().unwrap().to_string();
    change("window deleted", "delete", format!("{base}/windows/{window}"), None).await;
    change("service archived", "delete", format!("{base}/services/{new_service}"), None).await;
    change("practitioner archived", "delete", format!("{base}/practitioners/{new_practitioner}"), None).await;
    let e = change(
        "exception",
        "post",
        format!("{base}/exceptions"),
        Some(json!({"practitioner_id": practitioner, "kind": "leave", "time": {"recurrence": "days", "first": later(60), "last": later(61)}})),
    )
    .await;
    let exception = e["id"].as_str().unwrap().to_string();
    change("exception deleted", "delete", format!("{base}/exceptions/{exception}"), None).await;
    change("holidays", "put", format!("{base}/holidays"), Some(json!([{"date": later(90), "name": "Fête"}]))).await;
}

#[tokio::test]
async fn a_staff_reply_outside_the_whatsapp_window_is_refused() {
    let a = setup().await;
    let demo = a.app.clinic.clinic.id;
    a.app.say("+243990000003", "bonjour").await;
    let staff = a.token("staff@demo.org").await;
    let page: Value = a.get(&staff, &format!("/api/clinics/{demo}/conversations")).await.json().await.unwrap();
    let conversation = page["items"][0]["id"].as_str().unwrap().to_string();
    let path = format!("/api/clinics/{demo}/conversations/{conversation}");
    let (code, detail) = a.send("get", &staff, &path, None).await;
    assert_eq!(code, 200, "{detail}");
    assert_eq!((detail["full_phone"].as_str(), detail["can_reply"].as_bool()), (Some("+243990000003"), Some(true)), "{detail}");
    assert_ne!(detail["phone"], "+243990000003", "the list's number stays masked");
    // An unchanged answer costs a 304 to a client that repeats its ETag.
    let first = a.get(&staff, &path).await;
    let etag = first.headers()["etag"].to_str().unwrap().to_string();
    let again = a.app.http.get(format!("{}{path}", a.app.base)).bearer_auth(&staff).header("if-none-match", &etag).send().await.unwrap();
    assert_eq!(again.status(), 304);
    assert_eq!(a.send("post", &staff, &format!("{path}/reply"), Some(json!({"body": "Bonjour !"}))).await.0, 202);

    // 25 hours later WhatsApp takes only templates: the reply is refused, nothing queued.
    a.app.clock.advance(chrono::Duration::hours(25));
    let staff = a.token("staff@demo.org").await;
    a.app.workers.run_until_idle().await.unwrap();
    let sent = a.app.twilio.bodies().len();
    let (code, detail) = a.send("get", &staff, &path, None).await;
    assert_eq!((code.as_u16(), detail["can_reply"].as_bool()), (200, Some(false)), "{detail}");
    let (code, body) = a.send("post", &staff, &format!("{path}/reply"), Some(json!({"body": "Vous êtes là ?"}))).await;
    assert_eq!(code, 409, "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("24-hour window"), "{body}");
    a.app.workers.run_until_idle().await.unwrap();
    assert_eq!(a.app.twilio.bodies().len(), sent, "nothing sent");
    let other = uuid::Uuid::new_v4();
    assert_eq!(a.send("get", &staff, &format!("/api/clinics/{demo}/conversations/{other}"), None).await.0, 404);
}

#[tokio::test]
async fn a_practitioner_may_ask_for_their_own_agenda_only() {
    let a = setup().await;
    let demo = a.app.clinic.clinic.id;
    let (mine, theirs) = (a.app.clinic.practitioners[0].id, a.app.clinic.practitioners[1].id);
    let user = a.app.store.create_user("own@demo.org", &nuru::admin::auth::hash_password(PASSWORD), false, monday_morning()).await.unwrap();
    let membership = Membership { clinic_id: demo, role: ClinicRole::Practitioner, practitioner_id: Some(mine) };
    a.app.store.add_membership(user, &membership, monday_morning()).await.unwrap();
    let doctor = a.token("own@demo.org").await;
    let agenda = |p: nuru::domain::PractitionerId| format!("/api/clinics/{demo}/appointments?practitioner_id={p}");
    assert_eq!(a.send("get", &doctor, &agenda(mine), None).await.0, 200);
    assert_eq!(a.send("get", &doctor, &agenda(theirs), None).await.0, 403);
    let staff = a.token("staff@demo.org").await;
    assert_eq!(a.send("get", &staff, &agenda(theirs), None).await.0, 200, "staff see every agenda");
    let (_, me) = a.send("get", &doctor, "/api/me", None).await;
    assert_eq!(me["memberships"][0]["practitioner_id"], mine.to_string());
    assert_eq!(me["now"], "2026-11-23T07:00:00Z");
}
