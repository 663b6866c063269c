//! Log lines a client can cause, rate-limited: one client flooding an event must not be able to
//! fill the disk with the same warning. Each call site keeps its own budget (a burst of 10 lines,
//! then one a second) and reports how many lines it left out since the last one it wrote.

use std::{
    num::NonZeroU32,
    sync::{
        OnceLock,
        atomic::{AtomicU64, Ordering},
    },
};

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};

/// The budget of one log call site.
#[derive(Debug, Default)]
pub struct LogBudget {
    limiter: OnceLock<DefaultDirectRateLimiter>,
    suppressed: AtomicU64,
}

impl LogBudget {
    pub const fn new() -> Self {
        Self {
            limiter: OnceLock::new(),
            suppressed: AtomicU64::new(0),
        }
    }

    /// `Some(lines left out since the last one written)` if this line may be written.
    pub fn allow(&self) -> Option<u64> {
        let limiter = self.limiter.get_or_init(|| {
            RateLimiter::direct(
                Quota::per_second(NonZeroU32::MIN).allow_burst(NonZeroU32::new(10).expect("10")),
            )
        });
        if limiter.check().is_ok() {
            Some(self.suppressed.swap(0, Ordering::Relaxed))
        } else {
            self.suppressed.fetch_add(1, Ordering::Relaxed);
            None
        }
    }
}

/// `throttled!(warn, field = value, "message")`: a `tracing` event at that level, written at most
/// once a second (after a burst of 10) from this call site, with a `suppressed` count.
#[macro_export]
macro_rules! throttled {
    ($level:ident, $($rest:tt)+) => {{
        static BUDGET: $crate::throttle::LogBudget = $crate::throttle::LogBudget::new();
        if let Some(suppressed) = BUDGET.allow() {
            tracing::$level!(suppressed, $($rest)+);
        }
    }};
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flood_writes_a_burst_then_counts() {
        let budget = LogBudget::new();
        let written = (0..1_000).filter(|_| budget.allow().is_some()).count();
        assert!((10..=11).contains(&written), "{written} lines written");
        assert_eq!(
            budget.suppressed.load(Ordering::Relaxed),
            1_000 - written as u64
        );
    }
}
