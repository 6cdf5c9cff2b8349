//! Group commit for acknowledgements: webhooks that arrive together are
//! stored by one transaction, so a burst costs one commit per batch instead
//! of one per message. Each request still waits for its own row to be
//! committed before it is acknowledged: nothing is acknowledged unstored.

use super::{Backend, NewInbound, Result, Store, to_ts};
use sqlx::Row;
use std::collections::HashSet;
use tokio::sync::{mpsc, oneshot};

/// At most this many messages per batch.
const MAX_BATCH: usize = 256;

type Waiting = (NewInbound, oneshot::Sender<Result<bool, String>>);

#[derive(Debug, Clone)]
pub struct Intake {
    queue: mpsc::Sender<Waiting>,
}

impl Intake {
    /// Starts the writer. It takes whatever is waiting when it is free (one
    /// message when traffic is light, up to [`MAX_BATCH`] in a burst), so a
    /// lone message is never held back to fill a batch.
    pub fn start(store: Store) -> Intake {
        let (queue, mut waiting) = mpsc::channel::<Waiting>(4 * MAX_BATCH);
        tokio::spawn(async move {
            let mut batch: Vec<Waiting> = Vec::with_capacity(MAX_BATCH);
            while waiting.recv_many(&mut batch, MAX_BATCH).await > 0 {
                let messages: Vec<&NewInbound> = batch.iter().map(|(m, _)| m).collect();
                let stored = store.insert_inbound_batch(&messages).await;
                for ((_, reply), outcome) in batch.drain(..).zip(stored) {
                    let _ = reply.send(outcome);
                }
            }
        });
        Intake { queue }
    }

    /// Stores one inbound delivery; `Ok(false)` when it was stored before.
    pub async fn store(&self, message: NewInbound) -> Result<bool, String> {
        let (reply, answer) = oneshot::channel();
        self.queue.send((message, reply)).await.map_err(|_| "the intake writer stopped".to_string())?;
        answer.await.map_err(|_| "the intake writer stopped".to_string())?
    }
}

impl Store {
    /// Stores deliveries together; for each, `Ok(false)` when `(clinic,
    /// provider id)` was already stored (a repeated delivery, also within the
    /// batch).
    /// On PostgreSQL the batch is one statement of one shape whatever its
    /// size (the rows travel as one JSON array), so it is prepared once per
    /// connection and costs one round trip; on SQLite, where a statement is
    /// a local call, one INSERT per message in one transaction. If the batch
    /// fails, each message is stored on its own, so one message the database
    /// refuses does not take the others with it.
    pub async fn insert_inbound_batch(&self, messages: &[&NewInbound]) -> Vec<Result<bool, String>> {
        let together = match self.backend() {
            Backend::Postgres => self.insert_inbound_json(messages).await,
            Backend::Sqlite => self.insert_inbound_each(messages).await,
        };
        self.note_write(&together);
        match together {
            Ok(stored) => stored.into_iter().map(Ok).collect(),
            // One message, or a database that is not answering: no message
            // alone would do better, and each try could wait for the pool.
            Err(e) if messages.len() == 1 || e.is_unavailable() => vec![Err(e.to_string()); messages.len()],
            Err(e) => {
                tracing::warn!(error = %e, messages = messages.len(), "a batch of inbound messages failed: storing each on its own");
                let mut stored = Vec::with_capacity(messages.len());
                for m in messages {
                    stored.push(self.insert_inbound(m).await.map_err(|e| e.to_string()));
                }
                stored
            }
        }
    }

    async fn insert_inbound_each(&self, messages: &[&NewInbound]) -> Result<Vec<bool>> {
        let mut tx = self.begin().await?;
        let mut stored = Vec::with_capacity(messages.len());
        for m in messages {
            stored.push(Store::insert_inbound_in(&mut tx, m).await?);
        }
        tx.commit().await?;
        Ok(stored)
    }

    async fn insert_inbound_json(&self, messages: &[&NewInbound]) -> Result<Vec<bool>> {
        let rows: Vec<serde_json::Value> = messages
            .iter()
            .map(|m| {
                serde_json::json!([
                    m.clinic_id.to_string(),
                    m.provider_message_id,
                    m.channel.as_str(),
                    m.from.as_str(),
                    m.body,
                    m.fields_json,
                    to_ts(m.received_at),
                ])
            })
            .collect();
        // Rows are inserted in the order they arrived (`ordinality`), so
        // identities follow arrival as with one INSERT per message.
        let inserted = sqlx::query(
            "INSERT INTO inbound_messages (clinic_id, provider_message_id, channel, from_phone, body, fields, received_at) \
             SELECT r->>0, r->>1, r->>2, r->>3, r->>4, r->>5, (r->>6)::bigint \
             FROM json_array_elements($1::text::json) WITH ORDINALITY AS b(r, n) ORDER BY n \
             ON CONFLICT (clinic_id, provider_message_id) DO NOTHING \
             RETURNING clinic_id, provider_message_id",
        )
        .bind(serde_json::Value::Array(rows).to_string())
        .fetch_all(&self.pool)
        .await?;
        let mut new: HashSet<(String, String)> = HashSet::with_capacity(inserted.len());
        for row in inserted {
            new.insert((row.try_get("clinic_id")?, row.try_get("provider_message_id")?));
        }
        // The first of repeated deliveries in one batch is the one stored.
        Ok(messages.iter().map(|m| new.remove(&(m.clinic_id.to_string(), m.provider_message_id.clone()))).collect())
    }
}
