//! Group commit for acknowledgements: webhooks that arrive together are
//! stored by one transaction, so a burst costs one commit per batch instead
//! of one per message. Each request still waits for its own row to be
//! committed before it is acknowledged: nothing is acknowledged unstored.

use super::{NewInbound, Result, Store};
use tokio::sync::{mpsc, oneshot};

/// At most this many messages per transaction.
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
                match store.insert_inbound_batch(&messages).await {
                    Ok(stored) => {
                        for ((_, reply), new) in batch.drain(..).zip(stored) {
                            let _ = reply.send(Ok(new));
                        }
                    }
                    Err(e) => {
                        let reason = e.to_string();
                        for (_, reply) in batch.drain(..) {
                            let _ = reply.send(Err(reason.clone()));
                        }
                    }
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
    /// Stores deliveries in one statement (one round trip, one commit); for
    /// each, `false` when `(clinic, provider id)` was already stored, or
    /// earlier in the same batch (a repeated delivery). Rows are inserted in
    /// the order given, so the queue keeps each conversation's order.
    pub async fn insert_inbound_batch(&self, messages: &[&NewInbound]) -> Result<Vec<bool>> {
        if messages.is_empty() {
            return Ok(Vec::new());
        }
        let mut sql = String::from(
            "INSERT INTO inbound_messages (clinic_id, provider_message_id, channel, from_phone, body, fields, received_at) VALUES ",
        );
        for i in 0..messages.len() {
            let b = i * 7;
            if i > 0 {
                sql.push(',');
            }
            sql.push_str(&format!("(${},${},${},${},${},${},${})", b + 1, b + 2, b + 3, b + 4, b + 5, b + 6, b + 7));
        }
        sql.push_str(" ON CONFLICT (clinic_id, provider_message_id) DO NOTHING RETURNING clinic_id, provider_message_id");
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for m in messages {
            query = query
                .bind(m.clinic_id.to_string())
                .bind(m.provider_message_id.clone())
                .bind(m.channel.as_str())
                .bind(m.from.as_str().to_string())
                .bind(m.body.clone())
                .bind(m.fields_json.clone())
                .bind(super::to_ts(m.received_at));
        }
        let rows = query.fetch_all(&self.pool).await?;
        let mut inserted: std::collections::HashSet<(String, String)> = std::collections::HashSet::with_capacity(rows.len());
        for r in &rows {
            use sqlx::Row;
            inserted.insert((r.try_get("clinic_id")?, r.try_get("provider_message_id")?));
        }
        // The first of repeated deliveries in one batch is the one stored.
        Ok(messages.iter().map(|m| inserted.remove(&(m.clinic_id.to_string(), m.provider_message_id.clone()))).collect())
    }
}
