//! What senders send besides plain messages (`chat-bench --mix`): reactions, edits and replies,
//! in given proportions, and what the clients of a room share so that those land on recent
//! messages of the room.
//!
//! Every client runs in this one process, so the room's recent messages are learnt from the
//! senders' own acknowledgements (one update per message, not one per delivery), and a
//! reaction's send time is kept here: its broadcast carries no text to hold it, unlike a
//! message's or an edit's.

use std::{
    collections::{HashMap, VecDeque},
    fmt,
    str::FromStr,
    sync::{
        Mutex, RwLock,
        atomic::{AtomicU64, Ordering},
    },
};

use anyhow::{Context, bail};

/// One kind of request a sender makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `chatMessage`.
    Message,
    /// `react` on a recent message of the room that no one has reacted to yet.
    Reaction,
    /// `editMessage` of the sender's newest message.
    Edit,
    /// `chatMessage` with `replyTo` the room's newest message.
    Reply,
}

impl Kind {
    pub const ALL: [Self; 4] = [Self::Message, Self::Reaction, Self::Edit, Self::Reply];

    /// Its name in `--mix` and in the report.
    pub fn name(self) -> &'static str {
        match self {
            Self::Message => "messages",
            Self::Reaction => "reactions",
            Self::Edit => "edits",
            Self::Reply => "replies",
        }
    }

    /// Its place in [`Kind::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }
}

/// How often each kind is sent, as weights (percentages, usually).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mix {
    weights: [u32; 4],
}

impl Mix {
    /// Plain messages only, as the generator always sent.
    pub const MESSAGES: Self = Self {
        weights: [1, 0, 0, 0],
    };

    /// Whether anything but plain messages is sent.
    pub fn is_mixed(&self) -> bool {
        self.weights[1..].iter().any(|&weight| weight > 0)
    }

    /// The order one sender sends its kinds in, starting `offset` sends into the cycle, so that
    /// senders do not all react or edit at the same moment.
    pub fn schedule(&self, offset: usize) -> Schedule {
        let mut schedule = Schedule {
            weights: self.weights.map(i64::from),
            current: [0; 4],
            total: self.weights.iter().map(|&weight| i64::from(weight)).sum(),
        };
        let cycle = usize::try_from(schedule.total).unwrap_or(1).max(1);
        for _ in 0..offset % cycle {
            schedule.next_kind();
        }
        schedule
    }
}

impl FromStr for Mix {
    type Err = anyhow::Error;

    /// `messages=80,reactions=10,edits=5,replies=5`; a kind left out has weight 0.
    fn from_str(text: &str) -> anyhow::Result<Self> {
        let mut weights = [0; 4];
        for part in text
            .split(',')
            .map(str::trim)
            .filter(|part| !part.is_empty())
        {
            let (name, weight) = part
                .split_once('=')
                .with_context(|| format!("`{part}`: expected kind=weight"))?;
            let kind = Kind::ALL
                .into_iter()
                .find(|kind| kind.name() == name.trim())
                .with_context(|| {
                    format!("`{name}`: the kinds are messages, reactions, edits, replies")
                })?;
            weights[kind.index()] = weight
                .trim()
                .parse()
                .with_context(|| format!("`{weight}`: not a whole number"))?;
        }
        if weights.iter().all(|&weight| weight == 0) {
            bail!("the mix sends nothing");
        }
        Ok(Self { weights })
    }
}

impl fmt::Display for Mix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = Kind::ALL
            .into_iter()
            .filter(|kind| self.weights[kind.index()] > 0)
            .map(|kind| format!("{}={}", kind.name(), self.weights[kind.index()]))
            .collect();
        f.write_str(&parts.join(","))
    }
}

/// Smooth weighted round robin (as nginx spreads requests over weighted servers): over any run
/// of sends each kind's share is as close to its weight as whole sends allow, and the kinds are
/// interleaved rather than sent in blocks.
#[derive(Debug, Clone)]
pub struct Schedule {
    weights: [i64; 4],
    current: [i64; 4],
    total: i64,
}

impl Schedule {
    pub fn next_kind(&mut self) -> Kind {
        for (current, weight) in self.current.iter_mut().zip(self.weights) {
            *current += weight;
        }
        let mut best = 0;
        for index in 1..self.current.len() {
            if self.current[index] > self.current[best] {
                best = index;
            }
        }
        self.current[best] -= self.total;
        Kind::ALL[best]
    }
}

/// Messages remembered per room, for replies and reactions to aim at.
const RECENT: usize = 256;

/// What the clients of one room share.
#[derive(Debug, Default)]
pub struct RoomTargets {
    recent: Mutex<Recent>,
    /// When each reaction was sent, by the `seq` of the message it reacts to (each message gets
    /// at most one reaction from the generator), in microseconds since the run's epoch.
    reactions_sent: RwLock<HashMap<u64, u64>>,
    /// Messages without a send time received by the room's clients: the senders' first
    /// messages, posted before the run so that edits have something to edit from the start.
    unstamped: AtomicU64,
}

#[derive(Debug, Default)]
struct Recent {
    /// The room's newest acknowledged messages, oldest first.
    messages: VecDeque<u64>,
    /// Of those, the ones no one has reacted to yet, oldest first.
    unreacted: VecDeque<u64>,
}

impl RoomTargets {
    /// Message `seq` of the room was stored (a sender's acknowledgement said so).
    pub fn stored(&self, seq: u64) {
        let mut guard = self.recent.lock().expect("not poisoned");
        let recent = &mut *guard;
        for list in [&mut recent.messages, &mut recent.unreacted] {
            if list.len() == RECENT {
                list.pop_front();
            }
            list.push_back(seq);
        }
    }

    /// The message to answer: the newest known.
    pub fn reply_target(&self) -> Option<u64> {
        let recent = self.recent.lock().expect("not poisoned");
        recent.messages.back().copied()
    }

    /// The message to react to: the newest no one has reacted to, which no one else will
    /// react to now. (A second reaction with the same emoji by the same person would change
    /// nothing and reach no one.)
    pub fn reaction_target(&self) -> Option<u64> {
        let mut recent = self.recent.lock().expect("not poisoned");
        recent.unreacted.pop_back()
    }

    /// A reaction to message `target` was sent at `sent` microseconds.
    pub fn reacting(&self, target: u64, sent: u64) {
        let mut sent_at = self.reactions_sent.write().expect("not poisoned");
        sent_at.insert(target, sent);
    }

    /// A client of the room received a message without a send time.
    pub fn unstamped_received(&self) {
        self.unstamped.fetch_add(1, Ordering::Relaxed);
    }

    /// How many messages without a send time the room's clients received.
    pub fn unstamped(&self) -> u64 {
        self.unstamped.load(Ordering::Relaxed)
    }

    /// When the reaction to message `target` was sent.
    pub fn reaction_sent(&self, target: u64) -> Option<u64> {
        let sent_at = self.reactions_sent.read().expect("not poisoned");
        sent_at.get(&target).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mix_parses_and_prints_back() {
        let mix: Mix = "messages=80,reactions=10,edits=5,replies=5"
            .parse()
            .unwrap();
        assert_eq!(
            mix.to_string(),
            "messages=80,reactions=10,edits=5,replies=5"
        );
        assert!(mix.is_mixed());
        let alone: Mix = "messages=100".parse().unwrap();
        assert!(!alone.is_mixed());
        assert!(!Mix::MESSAGES.is_mixed());
        for bad in ["", "messages=0", "likes=5", "messages", "messages=-1"] {
            assert!(bad.parse::<Mix>().is_err(), "{bad}");
        }
    }

    #[test]
    fn the_schedule_keeps_the_proportions_interleaved() {
        let mix: Mix = "messages=80,reactions=10,edits=5,replies=5"
            .parse()
            .unwrap();
        for offset in [0, 1, 37, 1000] {
            let mut schedule = mix.schedule(offset);
            let kinds: Vec<Kind> = (0..100).map(|_| schedule.next_kind()).collect();
            let count = |kind| kinds.iter().filter(|&&sent| sent == kind).count();
            assert_eq!(
                [Kind::Message, Kind::Reaction, Kind::Edit, Kind::Reply].map(count),
                [80, 10, 5, 5]
            );
            // Interleaved: never more than 6 messages in a row between the others.
            let longest = kinds
                .split(|&kind| kind != Kind::Message)
                .map(<[Kind]>::len)
                .max();
            assert!(longest <= Some(6), "{longest:?}");
        }
    }

    #[test]
    fn each_message_gets_one_reaction_newest_first() {
        let targets = RoomTargets::default();
        assert_eq!(targets.reaction_target(), None);
        for seq in 1..=3 {
            targets.stored(seq);
        }
        assert_eq!(targets.reply_target(), Some(3));
        assert_eq!(targets.reaction_target(), Some(3));
        assert_eq!(targets.reaction_target(), Some(2));
        assert_eq!(targets.reply_target(), Some(3));
        targets.reacting(2, 42);
        assert_eq!(targets.reaction_sent(2), Some(42));
        assert_eq!(targets.reaction_sent(3), None);
    }
}
