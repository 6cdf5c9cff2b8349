//! The staff console end to end, in headless Chromium (Debian's `chromium`
//! and `chromium-driver`, driven over WebDriver by fantoccini) against the
//! application on SQLite with the fixed clock and the local Twilio server.
//! With `NURU_TEST_SCREENSHOTS=1` the test also writes the screenshots in
//! `docs/`.

use crate::admin::{PASSWORD, setup};
use crate::helpers::*;
use fantoccini::{Client, ClientBuilder, Locator};
use nuru::domain::AppointmentStatus;
use nuru::storage::{ClinicRole, Membership};
use serde_json::json;
use std::time::{Duration, Instant};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

struct Browser {
    client: Client,
    _driver: tokio::process::Child,
}

async fn browser() -> Browser {
    assert!(
        std::path::Path::new(CHROMIUM).exists() && std::path::Path::new(CHROMEDRIVER).exists(),
        "the console tests need Debian's chromium and chromium-driver (apt-get install chromium chromium-driver)"
    );
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let driver = tokio::process::Command::new(CHROMEDRIVER)
        .arg(format!("--port={port}"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("chromedriver starts");
    let deadline = Instant::now() + Duration::from_secs(20);
    while tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_err() {
        assert!(Instant::now() < deadline, "chromedriver listens");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": CHROMIUM,
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                     "--disable-component-update", "--disable-dev-shm-usage", "--window-size=1280,800", "--lang=en-GB"],
        }),
    );
    let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{port}"))
        .await
        .expect("a WebDriver session");
    Browser { client, _driver: driver }
}

impl Browser {
    async fn wait_for(&self, css: &str) -> fantoccini::elements::Element {
        match self.client.wait().at_most(Duration::from_secs(20)).for_element(Locator::Css(css)).await {
            Ok(e) => e,
            Err(e) => {
                let page = self.client.find(Locator::Css("body")).await.ok();
                let text = match page {
                    Some(p) => p.text().await.unwrap_or_default(),
                    None => String::new(),
                };
                panic!("{css} appears: {e}; the page says {text:?}")
            }
        }
    }

    async fn text_of(&self, css: &str) -> String {
        self.wait_for(css).await.text().await.unwrap()
    }

    /// Waits until the page's text contains `needle`.
    async fn wait_text(&self, css: &str, needle: &str) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let text = match self.client.find(Locator::Css(css)).await {
                Ok(e) => e.text().await.unwrap_or_default(),
                Err(_) => String::new(),
            };
            if text.contains(needle) {
                return;
            }
            assert!(Instant::now() < deadline, "{css} says {needle:?}; it says {text:?}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Clicks `css` once it is there (again if the page re-rendered it meanwhile).
    async fn click(&self, css: &str) {
        for attempt in 0.. {
            match self.wait_for(css).await.click().await {
                Ok(()) => return,
                Err(e) if attempt < 20 && e.to_string().contains("stale") => tokio::time::sleep(Duration::from_millis(100)).await,
                Err(e) => panic!("click {css}: {e}"),
            }
        }
    }

    /// Clears the field `css` and types `text` (again if the page re-rendered it meanwhile).
    async fn fill(&self, css: &str, text: &str) {
        for attempt in 0.. {
            let field = self.wait_for(css).await;
            match async {
                field.clear().await?;
                field.send_keys(text).await
            }
            .await
            {
                Ok(()) => return,
                Err(e) if attempt < 20 && e.to_string().contains("stale") => tokio::time::sleep(Duration::from_millis(100)).await,
                Err(e) => panic!("fill {css}: {e}"),
            }
        }
    }

    /// The status of a request the page makes with its own cookies (a
    /// synchronous XHR, so no script timeout is involved).
    async fn status_of(&self, method: &str, url: &str, body: Option<&str>) -> u64 {
        let script = "const [m, u, b] = arguments; const x = new XMLHttpRequest(); x.open(m, u, false); \
                      if (b !== null) x.setRequestHeader('content-type', 'application/json'); x.send(b); return x.status;";
        let args = vec![json!(method), json!(url), json!(body)];
        self.client.execute(script, args).await.unwrap().as_u64().unwrap()
    }

    async fn log_in(&self, base: &str, email: &str) {
        self.client.goto(&format!("{base}/console")).await.unwrap();
        self.wait_for("#email").await.send_keys(email).await.unwrap();
        self.wait_for("#password").await.send_keys(PASSWORD).await.unwrap();
        self.click("form.login button[type=submit]").await;
        self.wait_for("#logout").await;
    }

    async fn screenshot(&self, name: &str, width: u32, height: u32) {
        if std::env::var("NURU_TEST_SCREENSHOTS").is_err() {
            return;
        }
        self.client.set_window_size(width, height).await.unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
        let png = self.client.screenshot().await.unwrap();
        std::fs::write(format!("{}/docs/{name}-{width}.png", env!("CARGO_MANIFEST_DIR")), png).unwrap();
        self.client.set_window_size(1280, 800).await.unwrap();
    }
}

async fn replies_since(app: &TestApp, before: usize) -> Vec<String> {
    app.workers.run_until_idle().await.unwrap();
    app.twilio.received.lock().unwrap()[before..].iter().map(|r| r.field("Body").to_string()).collect()
}

#[tokio::test]
async fn staff_answer_an_emergency_and_manage_the_agenda_from_the_console() {
    let a = setup().await;
    let app = &a.app;
    let clinic = app.clinic.clinic.id;
    let b = browser().await;

    // Log in; the page sets its session cookies, which script cannot read.
    b.log_in(&app.base, "staff@demo.org").await;
    b.wait_for("#inbox h2").await;
    // The first load's weight as the browser counts it (compressed bodies and headers).
    let weight = b
        .client
        .execute(
            "return performance.getEntriesByType('navigation').concat(performance.getEntriesByType('resource'))\
             .reduce((n, e) => n + e.transferSize, 0)",
            vec![],
        )
        .await
        .unwrap()
        .as_u64()
        .unwrap();
    println!("console first load: {weight} bytes transferred");
    assert!(weight > 0 && weight <= 150 * 1024, "the inbox's first load weighs {weight} bytes");
    let cookies: String = b.client.execute("return document.cookie", vec![]).await.unwrap().as_str().unwrap().to_string();
    assert!(!cookies.contains("nuru_"), "the session cookies are HttpOnly: {cookies:?}");

    // An emergency arrives by webhook and shows on top, marked, within 5 s.
    let phone = "+243990000777";
    let awa = app.add_patient("Awa", "Kabila", Some((1990, 3, 4)), &[phone]).await;
    let before = app.twilio.received.lock().unwrap().len();
    app.say(phone, "mon bébé ne respire plus").await;
    let arrived = Instant::now();
    b.client.wait().at_most(Duration::from_secs(5)).for_element(Locator::Css("#waiting li.conv.urgent")).await.expect("within 5 s");
    assert!(arrived.elapsed() < Duration::from_secs(5));
    assert!(b.text_of("#waiting li.conv.urgent").await.contains("EMERGENCY"));
    let title = b.client.title().await.unwrap();
    assert!(title.contains("EMERGENCY"), "the title tells: {title}");
    b.screenshot("console-inbox", 360, 740).await;
    b.screenshot("console-inbox", 1280, 800).await;

    // The API's filters: another state hides it, "emergencies only" keeps it.
    b.client.goto(&format!("{}/console#/{clinic}/inbox?state=booking", app.base)).await.unwrap();
    b.wait_text("#inbox", "Waiting for a person (0)").await;
    b.click("#filter-state option[value='']").await;
    b.click("#filter-urgent").await;
    b.click("#inbox-filters button[type=submit]").await;
    b.wait_text("#inbox", "Waiting for a person (1)").await;
    assert!(b.client.current_url().await.unwrap().as_str().ends_with("inbox?urgent=true"));

    // Open it: the transcript, the patient of the number; take over, reply, release.
    b.click("#waiting li.conv.urgent a").await;
    b.wait_text("#transcript", "ne respire plus").await;
    b.wait_text(".side", "Awa Kabila").await;
    b.click("#take-over").await;
    b.wait_for("#release").await;
    b.wait_for("#reply-body").await.send_keys("Bonjour, ici l'accueil : une ambulance est en route.").await.unwrap();
    assert!(b.text_of("#reply-count").await.contains("1 SMS"));
    let sent_before = app.twilio.received.lock().unwrap().len();
    b.click("#send").await;
    b.wait_text("#transcript", "une ambulance est en route").await;
    let sent = replies_since(app, sent_before).await;
    assert!(sent.iter().any(|s| s.contains("une ambulance est en route")), "the reply reached Twilio: {sent:?}");
    b.screenshot("console-conversation", 360, 740).await;
    b.screenshot("console-conversation", 1280, 800).await;
    b.click("#release").await;
    b.wait_for("#take-over").await;
    let answered = app.say(phone, "mes rendez-vous").await;
    assert!(!answered.is_empty(), "the bot answers again once released");
    assert!(app.twilio.received.lock().unwrap().len() > before);

    // The access cookie's token expires (the server's clock moves 20 minutes): the
    // page's next calls, made together, share one refresh and carry on.
    app.clock.advance(chrono::Duration::minutes(20));

    // The agenda: book for Awa on Wednesday, move, cancel; the bot agrees each time.
    let wednesday = "2026-11-25";
    b.client.goto(&format!("{}/console#/{clinic}/agenda?date={wednesday}", app.base)).await.unwrap();
    b.wait_for("#book").await;
    b.wait_for("#book-patient-search").await.send_keys("Awa").await.unwrap();
    b.click("#book .row button").await;
    b.click("#book .patient-choice").await;
    b.click("#book-slots .slot").await;
    b.wait_text("#agenda-status", "Booked").await;
    let booked = app.store.patient_appointments(clinic, awa).await.unwrap();
    assert_eq!(booked.len(), 1);
    let first = booked[0].clone();
    assert_eq!(first.status, AppointmentStatus::Booked);
    b.wait_for(&format!("li.appointment[data-id='{}']", first.id)).await;
    let kinshasa = |t: chrono::DateTime<chrono::Utc>| t.with_timezone(&chrono_tz::Africa::Kinshasa).format("%H:%M").to_string();
    let listed = app.say(phone, "mes rendez-vous").await.join("\n");
    assert!(listed.contains("25 novembre") && listed.contains(&kinshasa(first.starts_at)), "the bot sees the booking: {listed}");

    b.click(&format!("li.appointment[data-id='{}'] button.move", first.id)).await;
    b.wait_for(".mover .slot").await;
    let slots = b.client.find_all(Locator::Css(".mover .slot")).await.unwrap();
    assert!(slots.len() > 1, "other times offered");
    let target = slots.last().unwrap().attr("data-start").await.unwrap().unwrap();
    slots.last().unwrap().click().await.unwrap();
    b.wait_text("#agenda-status", "Moved").await;
    let moved = app.store.patient_appointments(clinic, awa).await.unwrap();
    assert_eq!(moved[0].starts_at, target.parse::<chrono::DateTime<chrono::Utc>>().unwrap(), "moved to the chosen time");
    let listed = app.say(phone, "mes rendez-vous").await.join("\n");
    assert!(
        listed.contains(&kinshasa(moved[0].starts_at)) && !listed.contains(&kinshasa(first.starts_at)),
        "the bot sees the move: {listed}"
    );

    b.click(&format!("li.appointment[data-id='{}'] button.cancel", first.id)).await;
    b.client.accept_alert().await.unwrap();
    b.wait_text("#agenda-status", "Cancelled").await;
    let cancelled = app.store.patient_appointments(clinic, awa).await.unwrap();
    assert_eq!(cancelled[0].status, AppointmentStatus::Cancelled);
    let listed = app.say(phone, "mes rendez-vous").await.join("\n");
    assert!(!listed.contains("25 novembre"), "the bot sees the cancellation: {listed}");

    // Another clinic's conversation, by URL: not found, nothing shown.
    let other = nuru::domain::PhoneNumber::parse("+243990000888").unwrap();
    let theirs = app
        .store
        .conversation_for(
            a.other_clinic,
            nuru::domain::Channel::WhatsApp,
            &other,
            nuru::domain::Lang::Fr,
            &nuru::conversation::fresh_state_json(),
            app.clock.now(),
        )
        .await
        .unwrap();
    b.client.goto(&format!("{}/console#/{}/c/{}", app.base, a.other_clinic, theirs.id)).await.unwrap();
    b.wait_text("main", "Not found").await;
    b.client.goto(&format!("{}/console#/{clinic}/c/{}", app.base, theirs.id)).await.unwrap();
    b.wait_text("main", "Not found").await;

    // Signing out ends the session: a reload shows the login form again.
    b.client.goto(&format!("{}/console#/{clinic}/inbox", app.base)).await.unwrap();
    b.click("#logout").await;
    b.wait_for("#email").await;
    b.client.refresh().await.unwrap();
    b.wait_for("#email").await;
    assert_eq!(b.status_of("GET", "/api/me", None).await, 401);
    b.client.clone().close().await.unwrap();
}

#[tokio::test]
async fn a_practitioner_sees_their_own_agenda_only() {
    let a = setup().await;
    let app = &a.app;
    let clinic = app.clinic.clinic.id;
    let mine = app.clinic.practitioners[0].id;
    let theirs = app.clinic.practitioners[1].id;
    let user =
        app.store.create_user("kabeya@demo.org", &nuru::admin::auth::hash_password(PASSWORD), false, monday_morning()).await.unwrap();
    app.store
        .add_membership(
            user,
            &Membership { clinic_id: clinic, role: ClinicRole::Practitioner, practitioner_id: Some(mine) },
            monday_morning(),
        )
        .await
        .unwrap();
    let b = browser().await;
    b.log_in(&app.base, "kabeya@demo.org").await;
    b.wait_for("#agenda .toolbar").await;
    assert!(b.client.find(Locator::Css("#agenda-practitioner")).await.is_err(), "no picker of other agendas");
    let nav = b.text_of("header nav").await;
    assert!(!nav.contains("Inbox") && !nav.contains("Patients"), "{nav}");
    b.client.goto(&format!("{}/console#/{clinic}/agenda?p={theirs}", app.base)).await.unwrap();
    b.wait_text("#agenda", "your own agenda only").await;
    // The API refuses it too, through the console's own cookie.
    assert_eq!(b.status_of("GET", &format!("/api/clinics/{clinic}/appointments?practitioner_id={theirs}"), None).await, 403);
    // A change through the cookie without the CSRF header is refused.
    assert_eq!(b.status_of("POST", &format!("/api/clinics/{clinic}/patients"), Some("{}")).await, 403);
    b.client.clone().close().await.unwrap();
}

/// Free slots of the first service on `day`, as the API's engine offers them.
async fn slots(a: &crate::admin::Admin, day: &str) -> usize {
    let token = a.token("admin@demo.org").await;
    let (clinic, consultation) = (a.app.clinic.clinic.id, a.app.clinic.services[0].id);
    let (code, v) =
        a.send("get", &token, &format!("/api/clinics/{clinic}/slots?service_id={consultation}&from={day}&to={day}"), None).await;
    assert_eq!(code, 200, "{v}");
    v.as_array().unwrap().len()
}

#[tokio::test]
async fn a_clinic_admin_changes_settings_and_corrects_and_erases_a_patient() {
    let a = setup().await;
    let app = &a.app;
    let clinic = app.clinic.clinic.id;
    let b = browser().await;
    b.log_in(&app.base, "admin@demo.org").await;
    // Through the inbox to the settings before the inbox's first load is
    // back (the inbox is drawn at its hash change, the settings asked for
    // at the next task, long before a response): once there, nothing polls
    // the conversations any more.
    b.client
        .execute(
            &format!(
                "location.hash = '#/{clinic}/inbox?state=idle'; \
                 setTimeout(() => {{ location.hash = '#/{clinic}/settings'; }}, 0);"
            ),
            vec![],
        )
        .await
        .unwrap();
    b.wait_for("#exceptions").await;
    let polls = "return performance.getEntriesByType('resource').filter((e) => e.name.includes('/conversations?')).length";
    let before = b.client.execute(polls, vec![]).await.unwrap().as_u64().unwrap();
    tokio::time::sleep(Duration::from_millis(3500)).await;
    let after = b.client.execute(polls, vec![]).await.unwrap().as_u64().unwrap();
    assert_eq!(after, before, "the inbox left behind polls no more (its interval is 3 s)");

    // The clinic closes on Wednesday: no slot is offered that day any more.
    assert!(slots(&a, "2026-11-25").await > 0);
    let set = |id: &str, value: &str| format!("document.getElementById('{id}').value = '{value}'");
    b.client.execute(&set("exception-first", "2026-11-25"), vec![]).await.unwrap();
    b.client.execute(&set("exception-last", "2026-11-25"), vec![]).await.unwrap();
    b.wait_for("#exception-reason").await.send_keys("inventaire").await.unwrap();
    b.click("#exception-add").await;
    b.wait_text("#settings-status", "Saved").await;
    b.wait_text("#exceptions", "2026-11-25").await;
    assert_eq!(slots(&a, "2026-11-25").await, 0, "the engine follows the console's change");

    // A public holiday, and the opening hours patients are told. The day is
    // not among the demo clinic's holidays (Christmas is): the wait below
    // must see the page drawn again after the change, or the field typed
    // next would be drawn again under the typing.
    b.client.execute(&set("holiday-date", "2026-12-24"), vec![]).await.unwrap();
    b.wait_for("#holiday-name").await.send_keys("Veille de Noël").await.unwrap();
    b.click("#holiday-add").await;
    b.wait_text("#holidays", "2026-12-24 Veille de Noël").await;
    let holidays = app.store.holidays(clinic).await.unwrap();
    assert!(holidays.iter().any(|h| h.date.to_string() == "2026-12-24"), "the holiday is stored: {holidays:?}");
    assert!(holidays.iter().any(|h| h.date.to_string() == "2026-12-25"), "and the others kept: {holidays:?}");
    b.fill("#clinic-form textarea[name=opening_hours_en]", "Monday to Saturday, 7am to 6pm").await;
    b.click("#clinic-form button[type=submit]").await;
    // The page re-renders with the stored value once the change is saved.
    // A wait, not a measure: generous, since this runs beside the whole
    // suite on two cores; a failure says what the page showed.
    let deadline = Instant::now() + Duration::from_secs(30);
    while app.store.clinic(clinic).await.unwrap().opening_hours_en.as_deref() != Some("Monday to Saturday, 7am to 6pm") {
        if Instant::now() > deadline {
            let status = b.text_of("#settings-status").await;
            let typed =
                b.client.execute("return document.querySelector('#clinic-form textarea[name=opening_hours_en]')?.value", vec![]).await;
            panic!("the opening hours are not saved: the page says {status:?}, the field holds {typed:?}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // A patient found by name, corrected, then erased after the confirmation.
    let grace = app.add_patient("Grace", "Mbuyi", Some((1985, 1, 2)), &["+243990000555"]).await;
    b.client.goto(&format!("{}/console#/{clinic}/patients?q=mbuyi", app.base)).await.unwrap();
    b.click(&format!("a[href$='/p/{grace}']")).await;
    b.fill("form.card input[aria-label='First name']", "Grâce").await;
    b.click("form.card button[type=submit]").await;
    b.wait_text("main", "Saved").await;
    let record = app.store.patient(clinic, grace).await.unwrap().unwrap();
    assert_eq!(record.patient.first_name, "Grâce", "saved before the page says so");
    b.click("#erase").await;
    let warning = b.client.get_alert_text().await.unwrap();
    assert!(warning.contains("cannot be undone") && warning.contains("documents"), "the confirmation says what is erased: {warning}");
    b.client.accept_alert().await.unwrap();
    b.wait_for("#patient-search").await;
    assert!(app.store.patient(clinic, grace).await.unwrap().unwrap().erased);
    b.client.clone().close().await.unwrap();
}
