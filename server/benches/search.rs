//! The search benchmark: fills a store with `--messages` messages (1,000,000) of words drawn
//! from a vocabulary of 5,000 with Zipf frequencies (the most common word in about one message
//! of eight, the rarest in a few dozen), then times `--searches` searches (500, after 50 to warm
//! up) through the store's `search`, as the `search` request runs it (every room readable), and
//! prints p50, p95 and p99 in milliseconds, for all of them and by kind of query.
//!
//! The fill is direct SQL, not the store's appends: multi-row inserts in large transactions
//! (SQLite without fsync) into the schema the store made, its triggers and generated columns
//! indexing as they go, as they do for messages posted.
//!
//! ```sh
//! cargo bench -p server --bench search                       # SQLite in a temporary directory
//! cargo bench -p server --bench search -- --postgres postgres://postgres@127.0.0.1:5432/test
//! ```
//!
//! With `--postgres`, a database of its own is made there, filled, timed and dropped.

use std::{
    collections::HashSet,
    path::Path,
    str::FromStr,
    time::{Duration, Instant},
};

use anyhow::Result;
use clap::Parser;
use server::store::{
    Store,
    postgres::PgStore,
    sqlite::{DATABASE_FILE, SqliteStore},
};
use sqlx::{
    Connection, Executor, PgConnection, SqliteConnection, postgres::PgConnectOptions,
    sqlite::SqliteConnectOptions,
};

#[derive(Parser)]
struct Args {
    /// Messages to store.
    #[arg(long, default_value_t = 1_000_000)]
    messages: usize,
    /// Searches to time.
    #[arg(long, default_value_t = 500)]
    searches: usize,
    /// Benchmark PostgreSQL instead of SQLite, in a new database made through this URL.
    #[arg(long)]
    postgres: Option<String>,
    /// Passed by `cargo bench`.
    #[arg(long, hide = true)]
    bench: bool,
}

/// Words in the vocabulary.
const VOCABULARY: usize = 5_000;
/// Rooms the messages are spread over.
const ROOMS: usize = 20;
/// Rows per insert statement, and per transaction.
const ROWS_PER_INSERT: usize = 1_000;
const ROWS_PER_COMMIT: usize = 50_000;
const WARM_UP: usize = 50;

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    let text = Text::new();
    let rooms: Vec<String> = (0..ROOMS).map(|n| format!("room-{n}")).collect();
    match &args.postgres {
        None => {
            let dir =
                std::env::temp_dir().join(format!("chat-search-bench-{}", std::process::id()));
            let result = sqlite(&args, &text, &rooms, &dir).await;
            std::fs::remove_dir_all(&dir).ok();
            result
        }
        Some(url) => {
            let admin = PgConnectOptions::from_str(url)?;
            let name = format!("chat_search_bench_{}", std::process::id());
            let mut connection = PgConnection::connect_with(&admin).await?;
            connection
                .execute(format!("CREATE DATABASE {name}").as_str())
                .await?;
            let result = postgres(&args, &text, &rooms, admin.clone().database(&name)).await;
            connection
                .execute(format!("DROP DATABASE {name} WITH (FORCE)").as_str())
                .await?;
            result
        }
    }
}

async fn sqlite(args: &Args, text: &Text, rooms: &[String], dir: &Path) -> Result<()> {
    let store = SqliteStore::open(dir).await?;
    let options = SqliteConnectOptions::new().filename(dir.join(DATABASE_FILE));
    let mut connection = SqliteConnection::connect_with(&options).await?;
    connection.execute("PRAGMA synchronous = OFF").await?;
    let started = Instant::now();
    fill(&mut connection, args.messages, text, rooms).await?;
    let filled = started.elapsed();
    let size = std::fs::metadata(dir.join(DATABASE_FILE))?.len();
    println!(
        "SQLite: {} messages stored in {:.0} s ({} MB on disk)",
        args.messages,
        filled.as_secs_f64(),
        size >> 20
    );
    connection.close().await?;
    time(&store, args.searches, text, rooms).await;
    store.close().await;
    Ok(())
}

async fn postgres(
    args: &Args,
    text: &Text,
    rooms: &[String],
    options: PgConnectOptions,
) -> Result<()> {
    let store = PgStore::connect(options.clone()).await?;
    let mut connection = PgConnection::connect_with(&options).await?;
    let started = Instant::now();
    fill(&mut connection, args.messages, text, rooms).await?;
    connection.execute("VACUUM ANALYZE messages").await?;
    let size: String =
        sqlx::query_scalar("SELECT pg_size_pretty(pg_total_relation_size('messages'))")
            .fetch_one(&mut connection)
            .await?;
    println!(
        "PostgreSQL: {} messages stored and analyzed in {:.0} s; messages with its indexes {size}",
        args.messages,
        started.elapsed().as_secs_f64()
    );
    time(&store, args.searches, text, rooms).await;
    store.close().await;
    Ok(())
}

/// Makes `rooms` and inserts `count` messages spread over them, then moves the rooms' counters
/// past them: SQL
/// with the values written out (words are `a-z`, ids made here), one transaction of
/// [`ROWS_PER_COMMIT`] rows at a time.
async fn fill<C>(connection: &mut C, count: usize, text: &Text, rooms: &[String]) -> Result<()>
where
    for<'c> &'c mut C: Executor<'c>,
{
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut seqs = vec![0_i64; rooms.len()];
    let rows: Vec<String> = rooms.iter().map(|room| format!("('{room}', 0)")).collect();
    let create = format!(
        "INSERT INTO rooms (name, created_at) VALUES {}",
        rows.join(",")
    );
    connection.execute(create.as_str()).await?;
    for first in (0..count).step_by(ROWS_PER_COMMIT) {
        let mut sql = String::from("BEGIN;");
        let last = count.min(first + ROWS_PER_COMMIT);
        for chunk in (first..last).step_by(ROWS_PER_INSERT) {
            let rows: Vec<String> = (chunk..last.min(chunk + ROWS_PER_INSERT))
                .map(|id| {
                    let room = rng.below(rooms.len());
                    seqs[room] += 1;
                    let author = rng.below(500);
                    let text = text.message(&mut rng);
                    format!(
                        "('{}', {}, 'bench-{id}', 'user-{author}', 'Bench', '{text}', {id})",
                        rooms[room], seqs[room]
                    )
                })
                .collect();
            sql += "INSERT INTO messages (room, seq, id, author_id, author_name, text, sent_at) \
                    VALUES ";
            sql += &rows.join(",");
            sql += ";";
        }
        sql += "COMMIT;";
        connection.execute(sql.as_str()).await?;
    }
    for (room, seq) in rooms.iter().zip(seqs) {
        let update = format!("UPDATE rooms SET last_seq = {seq} WHERE name = '{room}'");
        connection.execute(update.as_str()).await?;
    }
    Ok(())
}

/// The kinds of query timed, in turn.
const KINDS: [&str; 5] = [
    "common word (rank 1-20)",
    "rare word (rank 2,000-5,000)",
    "2-3 letter prefix",
    "two words",
    "three words, the last a prefix",
];

/// Times `count` searches (after [`WARM_UP`] untimed), and prints the percentiles.
async fn time(store: &impl Store, count: usize, text: &Text, rooms: &[String]) {
    let mut rng = Rng(0xD1B5_4A32_D192_ED03);
    let mut times: Vec<Vec<Duration>> = vec![Vec::new(); KINDS.len()];
    let mut results = 0;
    for n in 0..WARM_UP + count {
        let kind = n % KINDS.len();
        let query = text.query(kind, &mut rng);
        let words: Vec<&str> = query.iter().map(String::as_str).collect();
        let started = Instant::now();
        let found = store.search(&words, rooms, 50).await.expect("search");
        let took = started.elapsed();
        if n >= WARM_UP {
            times[kind].push(took);
            results += found.len();
        }
    }
    println!("| searches | p50 | p95 | p99 | max |\n|---|---:|---:|---:|---:|");
    for (kind, times) in KINDS.iter().zip(&times) {
        println!("| {kind} | {} |", percentiles(times.clone()));
    }
    let all: Vec<Duration> = times.concat();
    println!("| all {} | {} |", all.len(), percentiles(all.clone()));
    println!(
        "{:.1} results per search on average",
        results as f64 / all.len().max(1) as f64
    );
}

/// `p50 | p95 | p99 | max` in milliseconds.
fn percentiles(mut times: Vec<Duration>) -> String {
    times.sort();
    let at = |p: f64| {
        let index = ((times.len() as f64 * p).ceil() as usize).clamp(1, times.len()) - 1;
        format!("{:.1} ms", times[index].as_secs_f64() * 1000.0)
    };
    [at(0.50), at(0.95), at(0.99), at(1.0)].join(" | ")
}

/// The vocabulary and its Zipf frequencies.
struct Text {
    words: Vec<String>,
    /// Cumulative weights, `1 / rank`.
    cumulative: Vec<f64>,
}

impl Text {
    fn new() -> Self {
        const SYLLABLES: &[&str] = &[
            "ka", "lo", "mi", "ran", "tes", "pu", "dor", "vel", "shi", "gun", "ber", "fa", "no",
            "zu", "qui", "tra", "ple", "ox", "em", "ar", "sol", "bri", "cet", "dy", "hal", "jo",
            "mor", "nex", "pi", "ru",
        ];
        let mut rng = Rng(0x2545_F491_4F6C_DD1D);
        let mut seen = HashSet::new();
        let mut words = Vec::with_capacity(VOCABULARY);
        while words.len() < VOCABULARY {
            let syllables = 1 + rng.below(3) + usize::from(words.len() > 200);
            let word: String = (0..syllables)
                .map(|_| SYLLABLES[rng.below(SYLLABLES.len())])
                .collect();
            if seen.insert(word.clone()) {
                words.push(word);
            }
        }
        let mut total = 0.0;
        let cumulative = (1..=VOCABULARY)
            .map(|rank| {
                total += 1.0 / rank as f64;
                total
            })
            .collect();
        Self { words, cumulative }
    }

    /// A word's rank, drawn by frequency.
    fn rank(&self, rng: &mut Rng) -> usize {
        let total = self.cumulative[VOCABULARY - 1];
        let at = rng.unit() * total;
        self.cumulative.partition_point(|&c| c < at)
    }

    /// A message of 4 to 20 words.
    fn message(&self, rng: &mut Rng) -> String {
        let length = 4 + rng.below(17);
        let words: Vec<&str> = (0..length)
            .map(|_| self.words[self.rank(rng)].as_str())
            .collect();
        words.join(" ")
    }

    /// A query of `KINDS[kind]`.
    fn query(&self, kind: usize, rng: &mut Rng) -> Vec<String> {
        let word = |rank: usize| self.words[rank].clone();
        match kind {
            0 => vec![word(rng.below(20))],
            1 => vec![word(2_000 + rng.below(3_000))],
            2 => {
                let whole = word(rng.below(1_000));
                vec![whole.chars().take(2 + rng.below(2)).collect()]
            }
            3 => vec![word(self.rank(rng)), word(self.rank(rng))],
            _ => {
                let last: String = word(self.rank(rng)).chars().take(4).collect();
                vec![word(self.rank(rng)), word(self.rank(rng)), last]
            }
        }
    }
}

/// xorshift64*: the same messages and queries on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % n as u64).expect("below a usize")
    }

    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1_u64 << 53) as f64
    }
}
