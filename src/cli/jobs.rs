//! `nuru jobs`: how every leased queue stands, the jobs given up on with
//! their reason, and giving one another life.

use crate::storage::Store;
use crate::storage::jobs::{Key, KeyType, queue, queues};
use anyhow::Context;
use clap::Subcommand;

#[derive(Subcommand)]
pub enum JobsCommand {
    /// Each queue: rows with work left, held now, due now, given up on, and
    /// the age of the oldest due row.
    Status,
    /// The jobs a queue gave up on, latest first, with their reason.
    Dead {
        /// turns, replies, reminders, feedback, broadcasts, calendar_writes,
        /// calendar_syncs or document_reads.
        queue: String,
        #[arg(long, default_value_t = 50)]
        limit: i64,
    },
    /// Makes a dead job due again, its attempts counted from zero.
    Revive {
        queue: String,
        /// The job's key as `nuru jobs dead` prints it (two parts: `a/b`).
        key: String,
    },
}

pub async fn run(store: &Store, command: JobsCommand) -> anyhow::Result<()> {
    let now = chrono::Utc::now();
    match command {
        JobsCommand::Status => {
            println!("{:<16} {:>8} {:>8} {:>8} {:>8} {:>14}", "queue", "open", "held", "due", "dead", "oldest due (s)");
            for q in queues() {
                let s = store.queue_stats(q, now).await?;
                let age = s.oldest_due.map_or("-".to_string(), |t| (now - t).num_seconds().max(0).to_string());
                println!("{:<16} {:>8} {:>8} {:>8} {:>8} {:>14}", q.name, s.open, s.running, s.due, s.dead, age);
            }
        }
        JobsCommand::Dead { queue: name, limit } => {
            let q = named(&name)?;
            for d in store.dead_jobs(q, limit).await? {
                println!("{}\t{}\tattempts {}\t{}", show(&d.key), d.dead_at.to_rfc3339(), d.attempts, d.reason);
            }
        }
        JobsCommand::Revive { queue: name, key } => {
            let q = named(&name)?;
            let key = parse_key(q.key_types(), &key)?;
            anyhow::ensure!(store.revive_job(q, &key, now).await?, "no dead job {} in {}", show(&key), q.name);
            eprintln!("{} {}: due again", q.name, show(&key));
        }
    }
    Ok(())
}

fn named(name: &str) -> anyhow::Result<&'static crate::storage::jobs::Queue> {
    queue(name).with_context(|| {
        let names: Vec<&str> = queues().iter().map(|q| q.name).collect();
        format!("no queue {name:?}; the queues are {}", names.join(", "))
    })
}

fn show(key: &[Key]) -> String {
    key.iter()
        .map(|k| match k {
            Key::Int(i) => i.to_string(),
            Key::Text(t) => t.clone(),
        })
        .collect::<Vec<_>>()
        .join("/")
}

fn parse_key(types: Vec<KeyType>, text: &str) -> anyhow::Result<Vec<Key>> {
    let parts: Vec<&str> = text.split('/').collect();
    anyhow::ensure!(parts.len() == types.len(), "this queue's keys have {} part(s), separated by /", types.len());
    parts
        .iter()
        .zip(types)
        .map(|(p, t)| match t {
            KeyType::Int => Ok(Key::Int(p.parse().with_context(|| format!("{p:?} is not a number"))?)),
            KeyType::Text => Ok(Key::Text(p.to_string())),
        })
        .collect()
}
