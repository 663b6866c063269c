//! Keeps a background task running: a task that fails (panics) is logged and started again, so
//! that one bug does not leave the server up but unable to do its work; and stops one with the
//! value that holds it ([`AbortOnDrop`]).

use std::{future::Future, time::Duration};

/// Pause before starting a failed task again, so a task that fails at once does not spin.
const RESTART_DELAY: Duration = Duration::from_secs(1);

/// Runs the task `start` makes until it returns normally, starting it again each time it fails.
pub async fn supervise<F, T>(name: &'static str, mut start: F)
where
    F: FnMut() -> T,
    T: Future<Output = ()> + Send + 'static,
{
    loop {
        match tokio::spawn(start()).await {
            Ok(()) => return,
            Err(error) => {
                tracing::error!(task = name, %error, "background task failed; starting it again");
                tokio::time::sleep(RESTART_DELAY).await;
            }
        }
    }
}

/// A background task that is stopped when the value holding it is dropped.
pub struct AbortOnDrop<T>(pub tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    };

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_task_that_fails_is_started_again() {
        let runs = Arc::new(AtomicUsize::new(0));
        let counted = runs.clone();
        supervise("test", move || {
            let run = counted.fetch_add(1, Ordering::SeqCst);
            async move { assert!(run > 0, "the first run fails") }
        })
        .await;
        assert_eq!(runs.load(Ordering::SeqCst), 2);
    }
}
