//! SIGINT and SIGTERM reach the programs xtask started, not only xtask.
//!
//! Ctrl-C in a terminal signals the whole process group, but `kill <xtask pid>` (a service
//! manager, a CI timeout, a test harness) signals xtask alone: it died, and the chat server it had
//! started kept running and holding its port. xtask now passes the signal on to each program it
//! is running, waits for them to finish (the server shuts down gracefully), and then exits with
//! the usual 128 + signal status.

use std::{
    io,
    process::{Child, ExitStatus},
    sync::{
        Mutex, MutexGuard,
        atomic::{AtomicI32, Ordering},
    },
};

use anyhow::{Context, Result};
use rustix::process::{Pid, Signal, WaitId, WaitIdOptions, kill_process, waitid};
use signal_hook::{
    consts::{SIGINT, SIGTERM},
    iterator::Signals,
};

/// The children running now. A child leaves the list before it is reaped (under the same lock),
/// so a signal is never sent to a pid the kernel has reused.
static RUNNING: Mutex<Vec<Pid>> = Mutex::new(Vec::new());

/// The first signal received, 0 before any: once set, xtask starts nothing new.
static RECEIVED: AtomicI32 = AtomicI32::new(0);

/// Starts the thread that forwards SIGINT and SIGTERM; call once, first thing.
pub fn forward() -> Result<()> {
    let mut signals = Signals::new([SIGINT, SIGTERM]).context("listen for SIGINT and SIGTERM")?;
    std::thread::spawn(move || {
        for signal in signals.forever() {
            // Only the first signal is kept: it decides the exit status.
            let _first = RECEIVED.compare_exchange(0, signal, Ordering::SeqCst, Ordering::SeqCst);
            let running = running();
            if running.is_empty() {
                // Nothing to wait for.
                std::process::exit(128 + signal);
            }
            let forwarded = if signal == SIGINT {
                Signal::INT
            } else {
                Signal::TERM
            };
            for &pid in running.iter() {
                if let Err(error) = kill_process(pid, forwarded) {
                    eprintln!("xtask: cannot pass signal {signal} on to process {pid:?}: {error}");
                }
            }
        }
    });
    Ok(())
}

/// The signal xtask received, if any: the caller should stop and exit with `128 + signal`.
pub fn received() -> Option<i32> {
    match RECEIVED.load(Ordering::SeqCst) {
        0 => None,
        signal => Some(signal),
    }
}

/// Waits for `child`, which receives the signals xtask receives meanwhile.
pub fn wait(child: &mut Child) -> io::Result<ExitStatus> {
    let pid = Pid::from_child(child);
    running().push(pid);
    // Wait for the exit without reaping (the pid stays taken), then leave the list and reap.
    let exited = loop {
        match waitid(
            WaitId::Pid(pid),
            WaitIdOptions::EXITED | WaitIdOptions::NOWAIT,
        ) {
            Err(rustix::io::Errno::INTR) => continue,
            other => break other,
        }
    };
    let mut running = running();
    running.retain(|&other| other != pid);
    exited?;
    child.wait()
}

/// Passes signals on to `child`, a program xtask stops itself later, until [`untrack`].
pub fn track(child: &Child) {
    running().push(Pid::from_child(child));
}

/// Stops passing signals on to `child`; call it before reaping `child` (`wait`, `kill`).
pub fn untrack(child: &Child) {
    let pid = Pid::from_child(child);
    running().retain(|&other| other != pid);
}

fn running() -> MutexGuard<'static, Vec<Pid>> {
    RUNNING
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use std::{os::unix::process::ExitStatusExt, process::Command};

    use super::*;

    /// What `kill <xtask pid>` does to `cargo xtask run`: the signal reaches the child, xtask
    /// waits for it and then knows to exit. (This test signals its own process; the handler
    /// installed by `forward` keeps it alive.)
    #[test]
    fn a_signal_to_xtask_reaches_the_program_it_runs() {
        forward().expect("install the handler");
        let mut child = Command::new("sleep")
            .arg("60")
            .spawn()
            .expect("start sleep");
        track(&child);
        signal_hook::low_level::raise(SIGTERM).expect("signal this process");
        let status = wait(&mut child).expect("wait for sleep");
        assert_eq!(
            status.signal(),
            Some(SIGTERM),
            "sleep was stopped by SIGTERM"
        );
        assert_eq!(received(), Some(SIGTERM));
    }
}
