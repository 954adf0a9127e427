//! A fixed pool of threads for argon2: `threads` verifications at once, up to `queue`
//! waiting, and a refusal at once beyond that. Each thread keeps one working-memory
//! buffer for all its verifications, so memory stays at `threads × memory_kib` however
//! hard a password flood pushes.

use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};

use argon2::Block;
use tokio::sync::oneshot;

type Job = Box<dyn FnOnce(&mut Vec<Block>) + Send>;

/// Handle on the pool; the threads end when the last handle is dropped.
#[derive(Debug, Clone)]
pub struct Workers {
    jobs: SyncSender<Job>,
}

impl Workers {
    pub fn new(threads: usize, queue: usize) -> Workers {
        let (jobs, rx) = sync_channel::<Job>(queue);
        let rx = Arc::new(Mutex::new(rx));
        for i in 0..threads.max(1) {
            let rx = Arc::clone(&rx);
            let spawned = std::thread::Builder::new()
                .name(format!("moat-argon2-{i}"))
                .spawn(move || work(&rx));
            if let Err(e) = spawned {
                tracing::error!(error = %e, "could not start an argon2 worker");
            }
        }
        Workers { jobs }
    }

    /// Run `f` on a worker with its memory buffer. `None` when the queue is full (or
    /// the pool is gone): the caller refuses at once.
    pub async fn run<T, F>(&self, f: F) -> Option<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Vec<Block>) -> T + Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        let queued = crate::metrics::global().argon2_queued();
        let job: Job = Box::new(move |blocks| {
            queued.started();
            let _ = tx.send(f(blocks));
        });
        match self.jobs.try_send(job) {
            Ok(()) => rx.await.ok(),
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => None,
        }
    }
}

fn work(rx: &Mutex<Receiver<Job>>) {
    let mut blocks = Vec::new();
    loop {
        let job = match rx.lock() {
            Ok(rx) => rx.recv(),
            Err(_) => return,
        };
        match job {
            Ok(job) => job(&mut blocks),
            Err(_) => return, // every handle dropped
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn runs_jobs_and_refuses_past_the_queue() {
        let w = Workers::new(1, 1);
        assert_eq!(w.run(|_| 2 + 2).await, Some(4));

        // Block the only worker, fill the one queue slot; the next job is refused.
        let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
        let (started_tx, started_rx) = oneshot::channel::<()>();
        let busy = tokio::spawn({
            let w = w.clone();
            async move {
                w.run(move |_| {
                    let _ = started_tx.send(());
                    let _ = release_rx.recv();
                })
                .await
            }
        });
        started_rx.await.unwrap();
        let queued = tokio::spawn({
            let w = w.clone();
            async move { w.run(|_| "queued").await }
        });
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        assert_eq!(w.run(|_| "third").await, None);
        release_tx.send(()).unwrap();
        assert_eq!(busy.await.unwrap(), Some(()));
        assert_eq!(queued.await.unwrap(), Some("queued"));
    }
}
