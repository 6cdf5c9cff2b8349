//! Slot search speed: 4 weeks, 20 practitioners, 10,000 existing appointments
//! and 200 exceptions, then how the time grows with the horizon, the number of
//! appointments and the number of practitioners. Two measures:
//! - engine: the pure search over data already in memory (what a turn pays
//!   after its queries);
//! - store + engine: the catalog and occupancy queries on SQLite, then the search.
//!
//! `cargo bench --bench slots`. Prints numbers; asserts nothing about time.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use nuru::domain::*;
use nuru::scheduling::{SlotEngine, SlotQuery};
use nuru::storage::Store;
use std::time::Instant;

const NOW: &str = "2026-11-23T06:00:00Z";

#[path = "common/large_clinic.rs"]
mod large_clinic;
use large_clinic::Setup;

fn setup(practitioners: usize, appointments: usize, exceptions: usize) -> Setup {
    large_clinic::setup("2026-11-23".parse().unwrap(), practitioners, appointments, exceptions)
}

fn query(catalog: &ClinicCatalog, weeks: i64) -> SlotQuery {
    let from: NaiveDate = "2026-11-23".parse().unwrap();
    SlotQuery {
        service: catalog.services[0].id,
        mode: ConsultationMode::InPerson,
        practitioners: vec![],
        from,
        to: from + Duration::days(weeks * 7 - 1),
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// Times `f` until about half a second has passed; returns (median ms, p99 ms, runs).
fn measure(mut f: impl FnMut() -> usize) -> (f64, f64, usize, usize) {
    let mut samples = Vec::new();
    let mut found = 0;
    let started = Instant::now();
    while started.elapsed().as_secs_f64() < 0.5 || samples.len() < 20 {
        let t = Instant::now();
        found = std::hint::black_box(f());
        samples.push(t.elapsed().as_secs_f64() * 1e3);
    }
    samples.sort_by(|a, b| a.partial_cmp(b).unwrap());
    (percentile(&samples, 0.5), percentile(&samples, 0.99), samples.len(), found)
}

/// The engine gets what the store would give it: the occupancy of the searched range.
fn engine_case(label: &str, practitioners: usize, appointments: usize, exceptions: usize, weeks: i64) {
    let s = setup(practitioners, appointments, exceptions);
    let now: DateTime<Utc> = NOW.parse().unwrap();
    let q = query(&s.catalog, weeks);
    let (lo, hi) = (now - Duration::days(1), now + Duration::days(weeks * 7 + 1));
    let in_range = Occupancy {
        booked: s.occupancy.booked.iter().filter(|b| b.blocked_from < hi && b.blocked_until > lo).copied().collect(),
        external: vec![],
    };
    let (p50, p99, runs, found) = measure(|| SlotEngine::new(&s.catalog, &in_range, now, None).find(&q).len());
    println!(
        "{label:<34} practitioners {practitioners:>3}  appointments {appointments:>6} ({:>5} in range)  exceptions {exceptions:>3}  weeks {weeks}  slots {found:>5}  p50 {p50:>7.3} ms  p99 {p99:>7.3} ms  ({runs} runs)",
        in_range.booked.len()
    );
}

async fn store_case(practitioners: usize, appointments: usize, exceptions: usize, weeks: i64) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let store = Store::connect(&format!("sqlite://{}", dir.path().join("slots.db").display()), None).await?;
    let s = setup(practitioners, appointments, exceptions);
    let now: DateTime<Utc> = NOW.parse().unwrap();
    large_clinic::store(&s, &store, None, now).await?;
    let clinic = s.catalog.clinic.id;
    let q = query(&s.catalog, weeks);
    let (mut total, mut cat_ms, mut occ_ms) = (Vec::new(), Vec::new(), Vec::new());
    let mut found = 0;
    let started = Instant::now();
    while started.elapsed().as_secs_f64() < 1.0 || total.len() < 20 {
        let t = Instant::now();
        let catalog = store.catalog(clinic).await?;
        let t1 = Instant::now();
        let occupancy = store.occupancy(clinic, now - Duration::days(1), now + Duration::days(weeks * 7 + 1)).await?;
        let t2 = Instant::now();
        found = SlotEngine::new(&catalog, &occupancy, now, None).find(&q).len();
        total.push(t.elapsed().as_secs_f64() * 1e3);
        cat_ms.push((t1 - t).as_secs_f64() * 1e3);
        occ_ms.push((t2 - t1).as_secs_f64() * 1e3);
    }
    for v in [&mut total, &mut cat_ms, &mut occ_ms] {
        v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    }
    println!(
        "store (SQLite) + engine             practitioners {practitioners:>3}  appointments {appointments:>6}  exceptions {exceptions:>3}  weeks {weeks}  slots {found:>5}  p50 {:>7.3} ms  p99 {:>7.3} ms  ({} runs)",
        percentile(&total, 0.5),
        percentile(&total, 0.99),
        total.len()
    );
    println!(
        "  of which: catalog load p50 {:.3} ms, occupancy query p50 {:.3} ms (4 queries in all, whatever the days or practitioners)",
        percentile(&cat_ms, 0.5),
        percentile(&occ_ms, 0.5)
    );
    Ok(())
}

fn main() -> anyhow::Result<()> {
    nuru::install_crypto_provider();
    println!("== slot search, the issue's case");
    engine_case("engine", 20, 10_000, 200, 4);
    println!("== growth with the horizon");
    for weeks in [1, 2, 4, 8, 12] {
        engine_case("engine", 20, 10_000, 200, weeks);
    }
    println!("== growth with the appointments");
    for n in [0, 1_000, 5_000, 10_000, 15_000] {
        engine_case("engine", 20, n, 200, 4);
    }
    println!("== growth with the practitioners");
    for p in [1, 5, 10, 20, 40] {
        engine_case("engine", p, 500 * p, 10 * p, 4);
    }
    println!("== including the database (one catalog load + one occupancy query per search)");
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(store_case(20, 10_000, 200, 4))?;
    Ok(())
}
