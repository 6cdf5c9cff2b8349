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
    /// Stores deliveries in one transaction; for each, `false` when
    /// `(clinic, provider id)` was already stored (a repeated delivery).
    pub async fn insert_inbound_batch(&self, messages: &[&NewInbound]) -> Result<Vec<bool>> {
        let mut tx = self.begin().await?;
        let mut stored = Vec::with_capacity(messages.len());
        for m in messages {
            stored.push(Store::insert_inbound_in(&mut tx, m).await?);
        }
        tx.commit().await?;
        Ok(stored)
    }
}
