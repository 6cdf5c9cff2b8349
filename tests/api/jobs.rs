//! The one job mechanism every queue shares (`storage::jobs`): leases that
//! fence a node that lost its claim, retries at the policy's time, and the
//! dead-letter state, on both backends.

use crate::helpers::*;
use chrono::Duration;
use nuru::retry::{Backoff, Next};
use nuru::storage::INBOUND;
use nuru::storage::jobs::Key;

const PHONE: &str = "+243810000101";

async fn two_messages(app: &TestApp) {
    for body in ["bonjour", "je voudrais un rendez-vous"] {
        let response = app.post_signed(&app.whatsapp_fields(&app.next_sid(), PHONE, body)).await;
        assert_eq!(response.status(), 200);
    }
}

#[tokio::test]
async fn a_job_that_keeps_failing_goes_to_the_dead_letter_state_with_its_reason_and_can_be_revived() {
    let app = spawn_app().await;
    two_messages(&app).await;
    let lease = Duration::seconds(60);
    let first = app.store.claim_inbound(app.clock.now(), app.clock.now() + lease).await.unwrap().expect("the first message");
    assert_eq!(first.body, "bonjour");
    let mut claim = first.claim.clone();
    let mut given_up = false;
    for attempt in 1..=Backoff::TURN.max_attempts {
        assert_eq!(claim.attempts, attempt);
        // While it is open, the conversation's next message waits behind it.
        let now = app.clock.now();
        match app.store.job_failed(&INBOUND, &claim, Backoff::TURN, first.received_at, "the model broke", now).await.unwrap() {
            Next::RetryAt(at) => {
                assert!(at > now, "retried later, not at once");
                assert!(app.store.claim_inbound(now, now + lease).await.unwrap().is_none(), "not before its time, nor the next message");
                app.clock.advance(at - now);
                let again = app.store.claim_inbound(app.clock.now(), app.clock.now() + lease).await.unwrap().expect("due again");
                assert_eq!(again.id, first.id);
                claim = again.claim;
            }
            Next::GiveUp => given_up = true,
        }
    }
    assert!(given_up, "given up after its last attempt");
    let dead = app.store.dead_jobs(&INBOUND, 10).await.unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].key, vec![Key::Int(first.id)]);
    assert_eq!(dead[0].reason, "the model broke");
    assert_eq!(dead[0].attempts, Backoff::TURN.max_attempts);
    // Dead, it no longer holds its conversation back.
    let now = app.clock.now();
    let second = app.store.claim_inbound(now, now + lease).await.unwrap().expect("the next message");
    assert_eq!(second.body, "je voudrais un rendez-vous");
    assert!(app.store.release_job(&INBOUND, &second.claim, now, None, false).await.unwrap());
    let stats = app.store.queue_stats(&INBOUND, now).await.unwrap();
    assert_eq!((stats.open, stats.running, stats.due, stats.dead), (1, 0, 1, 1));
    // Revived by an operator: open again, first in its conversation again.
    assert!(app.store.revive_job(&INBOUND, &[Key::Int(first.id)], now).await.unwrap());
    assert!(!app.store.revive_job(&INBOUND, &[Key::Int(first.id)], now).await.unwrap(), "only a dead job is revived");
    let revived = app.store.claim_inbound(now, now + lease).await.unwrap().expect("revived");
    assert_eq!((revived.id, revived.attempts), (first.id, 1));
    assert!(app.store.dead_jobs(&INBOUND, 10).await.unwrap().is_empty());
    // And processed like any message.
    app.store.release_job(&INBOUND, &revived.claim, now, None, false).await.unwrap();
    app.workers.run_until_idle().await.unwrap();
    assert_eq!(app.store.count_unprocessed_inbound().await.unwrap(), 0);
}

/// One number floods the queue with more messages than a claim reads at
/// once (PostgreSQL walks the waiting messages by pages); the other numbers'
/// first messages, written after the flood, are claimed while the flood's
/// first is held, and never a second message of the flood before its first.
#[tokio::test]
async fn a_flooding_number_holds_back_only_its_own_messages() {
    let app = spawn_app().await;
    let lease = Duration::seconds(60);
    for k in 0..300 {
        let response = app.post_signed(&app.whatsapp_fields(&app.next_sid(), PHONE, &format!("message {k}"))).await;
        assert_eq!(response.status(), 200);
    }
    let others = ["+243810000102", "+243810000103", "+243810000104"];
    for (i, phone) in others.iter().enumerate() {
        for k in 0..2 {
            let response = app.post_signed(&app.whatsapp_fields(&app.next_sid(), phone, &format!("other {i} {k}"))).await;
            assert_eq!(response.status(), 200);
        }
    }
    let now = app.clock.now();
    let flood = app.store.claim_inbound(now, now + lease).await.unwrap().expect("the flood's first");
    assert_eq!(flood.body, "message 0");
    let mut claimed = Vec::new();
    while let Some(m) = app.store.claim_inbound(now, now + lease).await.unwrap() {
        claimed.push((m.from.as_str().to_string(), m.body.clone()));
    }
    claimed.sort();
    let expected: Vec<(String, String)> = others.iter().enumerate().map(|(i, p)| (p.to_string(), format!("other {i} 0"))).collect();
    assert_eq!(claimed, expected, "each other number's first message, nothing of the flood");
    // The flood's first done, its second is next.
    assert!(app.store.bury_job(&INBOUND, &flood.claim, "done", now).await.unwrap());
    let second = app.store.claim_inbound(now, now + lease).await.unwrap().expect("the flood's second");
    assert_eq!(second.body, "message 1");
}

#[tokio::test]
async fn a_node_whose_lease_ran_out_writes_nothing_once_another_holds_the_job() {
    let app = spawn_app().await;
    two_messages(&app).await;
    let lease = Duration::seconds(10);
    let t0 = app.clock.now();
    let mut a = app.store.claim_inbound(t0, t0 + lease).await.unwrap().expect("node A claims").claim;
    assert!(app.store.claim_inbound(t0 + Duration::seconds(5), t0 + Duration::seconds(15)).await.unwrap().is_none(), "held by A");
    // A renews its lease while it works: still A's past the first lease.
    assert!(app.store.renew_job(&INBOUND, &mut a, t0 + Duration::seconds(20)).await.unwrap());
    assert!(app.store.claim_inbound(t0 + Duration::seconds(15), t0 + Duration::seconds(25)).await.unwrap().is_none(), "renewed");
    // A stalls past its renewed lease; B takes the job.
    let t1 = t0 + Duration::seconds(21);
    let b = app.store.claim_inbound(t1, t1 + lease).await.unwrap().expect("node B claims after A's lease").claim;
    assert_eq!(b.attempts, 2);
    assert!(!app.store.release_job(&INBOUND, &a, t1, Some("late"), true).await.unwrap(), "A's retry is refused");
    assert!(!app.store.bury_job(&INBOUND, &a, "late", t1).await.unwrap(), "A cannot give it up");
    assert!(!app.store.renew_job(&INBOUND, &mut a.clone(), t1 + lease).await.unwrap(), "A cannot renew");
    assert!(app.store.dead_jobs(&INBOUND, 10).await.unwrap().is_empty());
    // B's writes hold.
    assert!(app.store.release_job(&INBOUND, &b, t1 + Duration::seconds(3), Some("model slow"), true).await.unwrap());
    let stats = app.store.queue_stats(&INBOUND, t1).await.unwrap();
    assert_eq!((stats.open, stats.running, stats.due, stats.dead), (2, 0, 1, 0), "the first waits its retry, the second behind it");
}

#[tokio::test]
async fn operators_see_jobs_given_up_on_in_metrics_and_the_cli_and_revive_them() {
    let app = spawn_app().await;
    two_messages(&app).await;
    let now = app.clock.now();
    let first = app.store.claim_inbound(now, now + Duration::seconds(60)).await.unwrap().unwrap();
    assert!(app.store.bury_job(&INBOUND, &first.claim, "the model broke", now).await.unwrap());
    let page = app.http.get(format!("{}/metrics", app.base)).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("nuru_jobs_dead{queue=\"turns\"} 1"), "{page}");
    assert!(page.contains("nuru_jobs_dead{queue=\"replies\"} 0"), "{page}");

    let nuru = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_nuru"))
            .args(args)
            .env("NURU_DATABASE_URL", app.database_url())
            .output()
            .unwrap();
        (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
    };
    let (ok, status, err) = nuru(&["jobs", "status"]);
    assert!(ok, "{err}");
    let turns = status.lines().find(|l| l.starts_with("turns")).expect(&status);
    let cols: Vec<&str> = turns.split_whitespace().collect();
    assert_eq!(&cols[1..5], ["1", "0", "1", "1"], "open, held, due, dead: {status}");
    let (ok, dead, err) = nuru(&["jobs", "dead", "turns"]);
    assert!(ok, "{err}");
    assert!(dead.starts_with(&format!("{}\t", first.id)) && dead.contains("the model broke"), "{dead}");
    let (ok, _, err) = nuru(&["jobs", "dead", "nothing"]);
    assert!(!ok && err.contains("the queues are turns, replies"), "{err}");
    let (ok, _, err) = nuru(&["jobs", "revive", "turns", &first.id.to_string()]);
    assert!(ok, "{err}");
    let (ok, _, err) = nuru(&["jobs", "revive", "turns", &first.id.to_string()]);
    assert!(!ok && err.contains("no dead job"), "{err}");
    assert!(app.store.dead_jobs(&INBOUND, 10).await.unwrap().is_empty());
}
