//! One line per step of a long command, with the time since xtask started, so that a first run
//! that compiles for minutes never looks hung, and says how long each step usually takes.

use std::{fmt::Display, time::Instant};

/// The numbered steps of one xtask command.
pub struct Steps {
    total: usize,
    done: usize,
    started: Instant,
}

impl Steps {
    pub fn new(total: usize) -> Self {
        Self {
            total,
            done: 0,
            started: Instant::now(),
        }
    }

    /// Announces the next step: `xtask [2/6, 0:12] installing trunk 0.21.14 (about 2 min, once)`.
    pub fn next(&mut self, what: impl Display) {
        self.done += 1;
        eprintln!(
            "xtask [{}/{}, {}] {what}",
            self.done,
            self.total,
            self.elapsed()
        );
    }

    /// A closing line: `xtask [done, 7:48] what`.
    pub fn finish(&self, what: impl Display) {
        eprintln!("xtask [done, {}] {what}", self.elapsed());
    }

    /// Minutes and seconds since the command started.
    fn elapsed(&self) -> String {
        let seconds = self.started.elapsed().as_secs();
        format!("{}:{:02}", seconds / 60, seconds % 60)
    }
}
