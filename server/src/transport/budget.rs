//! How much of each kind of request a client may make: every client event has a budget, so no
//! event is a free loop. Over budget, a request is refused with `rate_limited` (a `typing` is
//! dropped), and nothing else happens.
//!
//! Per connection: messages (configurable), reads (`sync`, `members`) and typing signals. Per
//! user, across their connections: writes that are not messages (`createRoom`, `joinRoom`,
//! `leaveRoom`, `rename`), which all wait for the one database writer, changes to messages
//! (`editMessage`, `deleteMessage`: each a few statements in the writer's batch and a
//! broadcast), and reactions (`react`, `unreact`: the same, more often), and searches (`search`: each an index lookup over
//! every room the user can read); over HTTP, uploads and file fetches. Per room: typing relays,
//! since each one is delivered to every member. Per client address: new connections and
//! server-function calls, so that opening a fresh connection (with fresh budgets) is not a way
//! around the others. Budgets are per node; they bound work, they do not decide correctness.

use std::{net::IpAddr, num::NonZeroU32, time::Duration};

use governor::{DefaultDirectRateLimiter, DefaultKeyedRateLimiter, Quota, RateLimiter};

/// A budget: `burst` at once, refilled at `per_second`.
#[derive(Debug, Clone, Copy)]
pub struct RateLimit {
    pub per_second: f64,
    pub burst: f64,
}

impl RateLimit {
    /// A person's pace for messages: 20 at once, then 10 a second.
    pub const MESSAGES: Self = Self::new(10.0, 20.0);
    /// `sync` and `members`: a client asks after each (re)connect and when it opens a room.
    const READS: Self = Self::new(5.0, 20.0);
    /// The UI signals typing every 2 seconds at most.
    const TYPING: Self = Self::new(1.0, 3.0);
    /// Room changes and renames: a few at once, then one a second.
    const WRITES: Self = Self::new(1.0, 10.0);
    /// Edits and deletions: a person fixing a few typos or clearing a few messages at once,
    /// then two a second (each is a few statements in the writer's batch, and a broadcast to the
    /// room).
    const CHANGES: Self = Self::new(2.0, 10.0);
    /// Searches: a person refining a search as they type (the UI waits for a pause), then two a
    /// second; each one is an index lookup over every readable room.
    const SEARCHES: Self = Self::new(2.0, 10.0);
    /// Reactions: a person going through a conversation reacting here and there, or clicking a
    /// reaction on and off, then five a second (each a transaction and a broadcast, as a change).
    const REACTIONS: Self = Self::new(5.0, 20.0);
    /// Uploads (`POST /api/files`): a person pasting a few screenshots at once, then one every
    /// 5 seconds; each may be 10 MiB to read, decode and store.
    const UPLOADS: Self = Self::new(0.2, 10.0);
    /// File and thumbnail fetches: a room's pictures coming into view, then 20 a second.
    const FILE_READS: Self = Self::new(20.0, 200.0);
    /// Typing relays into one room, from all its members together.
    const ROOM_TYPING: Self = Self::new(10.0, 20.0);
    /// New connections from one address: a reconnect storm after a restart (an office behind
    /// one address) at once, then 20 a second.
    const CONNECTS: Self = Self::new(20.0, 64.0);
    /// Server-function calls (room list, history pages) from one address.
    const CALLS: Self = Self::new(10.0, 60.0);

    pub const fn new(per_second: f64, burst: f64) -> Self {
        Self { per_second, burst }
    }

    fn quota(self) -> Quota {
        let period =
            Duration::from_secs_f64(1.0 / self.per_second.max(1e-6)).max(Duration::from_nanos(1));
        // Bursts beyond u32 are as good as unlimited.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let burst = NonZeroU32::new(self.burst.clamp(1.0, f64::from(u32::MAX)) as u32)
            .unwrap_or(NonZeroU32::MIN);
        Quota::with_period(period)
            .expect("the period is positive")
            .allow_burst(burst)
    }
}

impl Default for RateLimit {
    fn default() -> Self {
        Self::MESSAGES
    }
}

/// One connection's budgets.
#[derive(Debug)]
pub struct ConnectionBudget {
    messages: DefaultDirectRateLimiter,
    reads: DefaultDirectRateLimiter,
    typing: DefaultDirectRateLimiter,
}

impl ConnectionBudget {
    pub fn new(messages: RateLimit) -> Self {
        Self {
            messages: RateLimiter::direct(messages.quota()),
            reads: RateLimiter::direct(RateLimit::READS.quota()),
            typing: RateLimiter::direct(RateLimit::TYPING.quota()),
        }
    }

    pub fn message(&self) -> bool {
        self.messages.check().is_ok()
    }

    pub fn read(&self) -> bool {
        self.reads.check().is_ok()
    }

    pub fn typing(&self) -> bool {
        self.typing.check().is_ok()
    }
}

/// The budgets shared by a user's connections, by a room's members, and by everything that
/// comes from one address.
#[derive(Debug)]
pub struct SharedBudget {
    writes: DefaultKeyedRateLimiter<String>,
    changes: DefaultKeyedRateLimiter<String>,
    reactions: DefaultKeyedRateLimiter<String>,
    searches: DefaultKeyedRateLimiter<String>,
    uploads: DefaultKeyedRateLimiter<String>,
    file_reads: DefaultKeyedRateLimiter<String>,
    room_typing: DefaultKeyedRateLimiter<String>,
    /// Per client address: new Socket.io connections and server-function calls, which each
    /// start with no budget of their own. `None` where per-address limits are off.
    per_address: Option<PerAddress>,
}

#[derive(Debug)]
struct PerAddress {
    connects: DefaultKeyedRateLimiter<IpAddr>,
    calls: DefaultKeyedRateLimiter<IpAddr>,
}

impl SharedBudget {
    /// The budgets, with or without the per-address ones (off where every client shares one
    /// address, as behind a proxy or under a load test).
    pub fn new(per_address: bool) -> Self {
        Self {
            writes: RateLimiter::keyed(RateLimit::WRITES.quota()),
            changes: RateLimiter::keyed(RateLimit::CHANGES.quota()),
            reactions: RateLimiter::keyed(RateLimit::REACTIONS.quota()),
            searches: RateLimiter::keyed(RateLimit::SEARCHES.quota()),
            uploads: RateLimiter::keyed(RateLimit::UPLOADS.quota()),
            file_reads: RateLimiter::keyed(RateLimit::FILE_READS.quota()),
            room_typing: RateLimiter::keyed(RateLimit::ROOM_TYPING.quota()),
            per_address: per_address.then(|| PerAddress {
                connects: RateLimiter::keyed(RateLimit::CONNECTS.quota()),
                calls: RateLimiter::keyed(RateLimit::CALLS.quota()),
            }),
        }
    }

    /// A new Socket.io connection from `address`.
    pub fn connect(&self, address: Option<IpAddr>) -> bool {
        match (&self.per_address, address) {
            (Some(budget), Some(address)) => budget.connects.check_key(&address).is_ok(),
            _ => true,
        }
    }

    /// A server-function call from `address`.
    pub fn call(&self, address: Option<IpAddr>) -> bool {
        match (&self.per_address, address) {
            (Some(budget), Some(address)) => budget.calls.check_key(&address).is_ok(),
            _ => true,
        }
    }

    pub fn write(&self, user_id: &str) -> bool {
        self.writes.check_key(&user_id.to_owned()).is_ok()
    }

    /// An edit or a deletion by `user_id`.
    pub fn change(&self, user_id: &str) -> bool {
        self.changes.check_key(&user_id.to_owned()).is_ok()
    }

    /// A reaction added or taken away by `user_id`.
    pub fn reaction(&self, user_id: &str) -> bool {
        self.reactions.check_key(&user_id.to_owned()).is_ok()
    }

    /// A search by `user_id`.
    pub fn search(&self, user_id: &str) -> bool {
        self.searches.check_key(&user_id.to_owned()).is_ok()
    }

    /// A file uploaded by `user_id`.
    pub fn upload(&self, user_id: &str) -> bool {
        self.uploads.check_key(&user_id.to_owned()).is_ok()
    }

    /// A file or thumbnail fetched by `user_id`.
    pub fn file_read(&self, user_id: &str) -> bool {
        self.file_reads.check_key(&user_id.to_owned()).is_ok()
    }

    pub fn room_typing(&self, room: &str) -> bool {
        self.room_typing.check_key(&room.to_owned()).is_ok()
    }

    /// Forgets users and rooms whose budget is full again, so the maps stay as small as the
    /// set of recently active ones.
    pub fn forget_idle(&self) {
        self.writes.retain_recent();
        self.writes.shrink_to_fit();
        self.changes.retain_recent();
        self.changes.shrink_to_fit();
        self.reactions.retain_recent();
        self.reactions.shrink_to_fit();
        self.searches.retain_recent();
        self.searches.shrink_to_fit();
        self.uploads.retain_recent();
        self.uploads.shrink_to_fit();
        self.file_reads.retain_recent();
        self.file_reads.shrink_to_fit();
        self.room_typing.retain_recent();
        self.room_typing.shrink_to_fit();
        if let Some(budget) = &self.per_address {
            budget.connects.retain_recent();
            budget.connects.shrink_to_fit();
            budget.calls.retain_recent();
            budget.calls.shrink_to_fit();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_budget_allows_its_burst_then_refuses() {
        let budget = ConnectionBudget::new(RateLimit::new(0.001, 3.0));
        assert_eq!((0..10).filter(|_| budget.message()).count(), 3);
        let shared = SharedBudget::new(true);
        assert_eq!((0..100).filter(|_| shared.write("u1")).count(), 10);
        assert!(shared.write("u2"), "another user has a budget of their own");
        assert_eq!((0..100).filter(|_| shared.change("u1")).count(), 10);
        assert_eq!((0..100).filter(|_| shared.reaction("u1")).count(), 20);
        assert_eq!((0..100).filter(|_| shared.search("u1")).count(), 10);
        assert_eq!((0..100).filter(|_| shared.upload("u1")).count(), 10);
        assert_eq!((0..1_000).filter(|_| shared.file_read("u1")).count(), 200);
        let here = Some(IpAddr::from([127, 0, 0, 1]));
        assert_eq!((0..100).filter(|_| shared.connect(here)).count(), 64);
        assert!(shared.connect(Some(IpAddr::from([127, 0, 0, 2]))));
        let unlimited = SharedBudget::new(false);
        assert!((0..1_000).all(|_| unlimited.connect(here) && unlimited.call(here)));
    }

    #[test]
    fn an_enormous_rate_is_as_good_as_unlimited() {
        let budget = ConnectionBudget::new(RateLimit::new(1e9, 1e12));
        assert!((0..100_000).all(|_| budget.message()));
    }
}
