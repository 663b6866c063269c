//! The server under test, when the fuzzer starts it: the release binary on a free loopback port
//! with a fresh data directory, its log read for panics as it runs.

use std::{
    path::{Path, PathBuf},
    process::Stdio,
    sync::{Arc, Mutex},
    time::Duration,
};

use anyhow::{Context, Result};
use tokio::{
    io::{AsyncBufReadExt, AsyncRead, BufReader},
    process::{Child, Command},
    sync::oneshot,
};

pub struct Server {
    child: Child,
    pub url: String,
    pub pid: u32,
    data_dir: PathBuf,
    /// Log lines (standard output and error) that tell of a panic.
    panics: Arc<Mutex<Vec<String>>>,
}

/// How long a graceful shutdown may take before the server is counted as hung.
const SHUTDOWN: Duration = Duration::from_secs(15);

impl Server {
    /// Starts `binary` with `args` and waits until it listens.
    pub async fn start(binary: &Path, args: &[String]) -> Result<Self> {
        let data_dir = std::env::temp_dir().join(format!("chat-fuzz-{}", std::process::id()));
        let mut child = Command::new(binary)
            .args(["--bind", "127.0.0.1:0", "--data-dir"])
            .arg(&data_dir)
            .args(args)
            .env("RUST_LOG", "warn,server=info")
            .env("NO_COLOR", "1")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("start {}", binary.display()))?;
        let panics = Arc::new(Mutex::new(Vec::new()));
        let (listening, url) = oneshot::channel();
        watch_log(
            child.stdout.take().context("stdout")?,
            &panics,
            Some(listening),
        );
        watch_log(child.stderr.take().context("stderr")?, &panics, None);
        let url = tokio::time::timeout(Duration::from_secs(30), url)
            .await
            .context("the server did not say where it listens in time")?
            .context("the server exited before listening")?;
        Ok(Self {
            pid: child.id().context("pid")?,
            child,
            url,
            data_dir,
            panics,
        })
    }

    /// Whether the process is still running.
    pub fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    pub fn panics(&self) -> Vec<String> {
        self.panics.lock().expect("not poisoned").clone()
    }

    /// SIGTERM, then the exit code of a graceful shutdown; removes the data directory.
    pub async fn stop(mut self) -> Result<i32> {
        // tokio, like std, only sends SIGKILL itself.
        Command::new("kill")
            .arg(self.pid.to_string())
            .status()
            .await
            .context("kill")?;
        let status = tokio::time::timeout(SHUTDOWN, self.child.wait())
            .await
            .with_context(|| format!("the server did not stop within {SHUTDOWN:?} of SIGTERM"))??;
        if let Err(error) = std::fs::remove_dir_all(&self.data_dir) {
            eprintln!("{} left behind: {error}", self.data_dir.display());
        }
        status.code().context("the server ended by a signal")
    }
}

/// Reads a log stream to its end: keeps the lines that tell of a panic, and sends the URL of the
/// `listening on` line to `listening`.
fn watch_log(
    stream: impl AsyncRead + Unpin + Send + 'static,
    panics: &Arc<Mutex<Vec<String>>>,
    mut listening: Option<oneshot::Sender<String>>,
) {
    let panics = panics.clone();
    tokio::spawn(async move {
        let mut lines = BufReader::new(stream).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            if line.contains("panicked") {
                panics.lock().expect("not poisoned").push(line.clone());
            }
            if let Some(at) = line.split("listening on ").nth(1)
                && let Some(sender) = listening.take()
            {
                // The receiver only goes away if start-up gave up waiting.
                let _ = sender.send(at.split_whitespace().next().unwrap_or_default().to_owned());
            }
        }
    });
}
