//! Presence over all the nodes of a cluster, kept in Redis (the [`Board`] of `chat::presence`).
//!
//! Keys, under the chat's prefix `P`:
//! - `P:presence:room:<room>`, a hash: `c:<user id>` how many nodes have the user online in the
//!   room, `n:<user id>` their name. A user joins the room when the count goes to 1 and leaves
//!   when it goes back to 0, so two tabs on two nodes are one person.
//! - `P:presence:node:<node>`, a hash: what this node counted (`<room>\n<user id>` -> name), so
//!   that another node can take it back if this one dies.
//! - `P:presence:alive:<node>`, renewed every few seconds, expiring [`ALIVE`] after the last
//!   renewal; `P:presence:nodes`, the set of nodes. A node whose `alive` key expired is taken
//!   over by the first other node to notice: its users leave, within [`ALIVE`] plus one upkeep.
//!
//! Every change is one Lua script, so counts and a node's record never disagree. The scripts
//! name room keys they build themselves: this needs one Redis (or a primary with replicas), not
//! Redis Cluster.

use std::{collections::BTreeMap, time::Duration};

use redis::{Script, aio::ConnectionManager};
use shared::Author;

use crate::chat::{Board, BoardResult, Changes};

/// How long a node counts as alive after its last renewal.
const ALIVE: Duration = Duration::from_secs(15);

/// Applies one node's changes in one room. KEYS: the room hash, the node hash. ARGV: the room,
/// then (op, user id, name) for each change: `+` online here, `-` offline here, `=` renamed.
/// Returns (op, user id) of each change for the whole chat, then the number online.
const APPLY: &str = r"
local out = {}
for i = 2, #ARGV, 3 do
  local op, uid, name = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  local field = ARGV[1] .. '\n' .. uid
  if op == '+' then
    if redis.call('HSETNX', KEYS[2], field, name) == 1
      and redis.call('HINCRBY', KEYS[1], 'c:' .. uid, 1) == 1 then
      table.insert(out, '+'); table.insert(out, uid)
    end
    redis.call('HSET', KEYS[1], 'n:' .. uid, name)
  elseif op == '-' then
    if redis.call('HDEL', KEYS[2], field) == 1
      and redis.call('HINCRBY', KEYS[1], 'c:' .. uid, -1) <= 0 then
      redis.call('HDEL', KEYS[1], 'c:' .. uid, 'n:' .. uid)
      table.insert(out, '-'); table.insert(out, uid)
    end
  elseif redis.call('HEXISTS', KEYS[2], field) == 1 then
    redis.call('HSET', KEYS[2], field, name)
    redis.call('HSET', KEYS[1], 'n:' .. uid, name)
    table.insert(out, '='); table.insert(out, uid)
  end
end
table.insert(out, tostring(math.floor(redis.call('HLEN', KEYS[1]) / 2)))
return out
";

/// Takes a node's users off the board, unless it is alive (ARGV[3] = '1': regardless, for a
/// node leaving itself). KEYS: its node hash, the node set, its alive key. ARGV: the room keys'
/// prefix, the node id. Returns (room, user id, name, online in the room) for each user now
/// offline in the whole chat.
const TAKE_OVER: &str = r"
if ARGV[3] ~= '1' and redis.call('EXISTS', KEYS[3]) == 1 then return {} end
local fields = redis.call('HGETALL', KEYS[1])
local out = {}
for i = 1, #fields, 2 do
  local room, uid = string.match(fields[i], '^(.*)\n(.*)$')
  local key = ARGV[1] .. room
  if redis.call('HINCRBY', key, 'c:' .. uid, -1) <= 0 then
    redis.call('HDEL', key, 'c:' .. uid, 'n:' .. uid)
    table.insert(out, room); table.insert(out, uid); table.insert(out, fields[i + 1])
    table.insert(out, tostring(math.floor(redis.call('HLEN', key) / 2)))
  end
end
redis.call('DEL', KEYS[1], KEYS[3])
redis.call('SREM', KEYS[2], ARGV[2])
return out
";

pub struct RedisBoard {
    redis: ConnectionManager,
    node: String,
    prefix: String,
    apply: Script,
    take_over: Script,
}

impl RedisBoard {
    /// This node's board, on the connection `redis`; registers the node.
    pub async fn new(redis: ConnectionManager, prefix: &str) -> BoardResult<Self> {
        let board = Self {
            redis,
            node: uuid::Uuid::now_v7().to_string(),
            prefix: format!("{prefix}:presence:"),
            apply: Script::new(APPLY),
            take_over: Script::new(TAKE_OVER),
        };
        board.renew().await?;
        Ok(board)
    }

    fn room_key(&self, room: &str) -> String {
        format!("{}room:{room}", self.prefix)
    }

    fn node_key(&self, node: &str) -> String {
        format!("{}node:{node}", self.prefix)
    }

    fn alive_key(&self, node: &str) -> String {
        format!("{}alive:{node}", self.prefix)
    }

    fn nodes_key(&self) -> String {
        format!("{}nodes", self.prefix)
    }

    /// Renews this node's `alive` key; true if it had expired or was lost (Redis restarted, or
    /// the others took this node over after a long pause).
    async fn renew(&self) -> BoardResult<bool> {
        let mut redis = self.redis.clone();
        let (previous, _): (Option<String>, i64) = redis::pipe()
            .cmd("SET")
            .arg(self.alive_key(&self.node))
            .arg(1)
            .arg("PX")
            .arg(u64::try_from(ALIVE.as_millis()).unwrap_or(u64::MAX))
            .arg("GET")
            .cmd("SADD")
            .arg(self.nodes_key())
            .arg(&self.node)
            .query_async(&mut redis)
            .await?;
        Ok(previous.is_none())
    }

    /// Runs [`APPLY`]: `ops` are (op, user) in `room`.
    async fn run_apply(
        &self,
        room: &str,
        ops: impl Iterator<Item = (&'static str, &Author)>,
    ) -> BoardResult<(Vec<(String, String)>, usize)> {
        let mut invocation = self.apply.key(self.room_key(room));
        invocation.key(self.node_key(&self.node)).arg(room);
        for (op, user) in ops {
            invocation.arg(op).arg(&user.id).arg(stored(user));
        }
        let mut out: Vec<String> = invocation.invoke_async(&mut self.redis.clone()).await?;
        let online = out.pop().ok_or("APPLY returned nothing")?.parse()?;
        let changes = out
            .chunks_exact(2)
            .map(|pair| (pair[0].clone(), pair[1].clone()))
            .collect();
        Ok((changes, online))
    }

    /// Takes over node `node` (`force`: even if it is alive); returns the departures per room.
    async fn run_take_over(&self, node: &str, force: bool) -> BoardResult<Vec<Changes>> {
        let out: Vec<String> = self
            .take_over
            .key(self.node_key(node))
            .key(self.nodes_key())
            .key(self.alive_key(node))
            .arg(format!("{}room:", self.prefix))
            .arg(node)
            .arg(if force { "1" } else { "0" })
            .invoke_async(&mut self.redis.clone())
            .await?;
        let mut rooms: BTreeMap<String, Changes> = BTreeMap::new();
        for left in out.chunks_exact(4) {
            let [room, id, name, online] = left else {
                unreachable!("chunks of four");
            };
            let changes = rooms.entry(room.clone()).or_insert_with(|| Changes {
                room: room.clone(),
                online: 0,
                joined: Vec::new(),
                renamed: Vec::new(),
                left: Vec::new(),
            });
            changes.online = online.parse()?;
            changes.left.push(read(id, name));
        }
        Ok(rooms.into_values().collect())
    }
}

/// What the board keeps of a user beside their id: their name and username, as JSON.
fn stored(user: &Author) -> String {
    serde_json::json!({ "name": user.name, "username": user.username }).to_string()
}

/// A user as [`stored`]; a bare name (as an older node wrote it) is a guest's.
fn read(id: &str, value: &str) -> Author {
    #[derive(serde::Deserialize)]
    struct Stored {
        name: String,
        username: Option<String>,
    }
    match serde_json::from_str::<Stored>(value) {
        Ok(Stored { name, username }) => Author {
            id: id.to_owned(),
            name,
            username,
        },
        Err(_) => Author::guest(id, value),
    }
}

#[async_trait::async_trait]
impl Board for RedisBoard {
    async fn apply(&self, changes: Changes) -> BoardResult<Changes> {
        let ops = (changes.joined.iter().map(|user| ("+", user)))
            .chain(changes.renamed.iter().map(|user| ("=", user)))
            .chain(changes.left.iter().map(|user| ("-", user)));
        let (applied, online) = self.run_apply(&changes.room, ops).await?;
        let pick = |op: &str, users: Vec<Author>| -> Vec<Author> {
            users
                .into_iter()
                .filter(|user| applied.iter().any(|(o, id)| o == op && *id == user.id))
                .collect()
        };
        Ok(Changes {
            online,
            joined: pick("+", changes.joined),
            renamed: pick("=", changes.renamed),
            left: pick("-", changes.left),
            room: changes.room,
        })
    }

    async fn members(&self, room: &str) -> BoardResult<Vec<Author>> {
        let fields: Vec<(String, String)> = redis::cmd("HGETALL")
            .arg(self.room_key(room))
            .query_async(&mut self.redis.clone())
            .await?;
        let mut members: Vec<Author> = fields
            .into_iter()
            .filter_map(|(field, name)| {
                let id = field.strip_prefix("n:")?;
                Some(read(id, &name))
            })
            .collect();
        members.sort_by_key(|user| user.name.to_lowercase());
        Ok(members)
    }

    async fn upkeep(&self, local: Vec<(String, Vec<Author>)>) -> BoardResult<Vec<Changes>> {
        let mut changes = Vec::new();
        if self.renew().await? {
            tracing::warn!("shared presence had lost this node; registering its users again");
            for (room, users) in local {
                let joined = self
                    .apply(Changes {
                        room,
                        online: 0,
                        joined: users,
                        renamed: Vec::new(),
                        left: Vec::new(),
                    })
                    .await?;
                changes.push(joined);
            }
        }
        let nodes: Vec<String> = redis::cmd("SMEMBERS")
            .arg(self.nodes_key())
            .query_async(&mut self.redis.clone())
            .await?;
        for node in nodes.iter().filter(|node| **node != self.node) {
            let taken = self.run_take_over(node, false).await?;
            if !taken.is_empty() {
                tracing::info!(%node, rooms = taken.len(), "took over the presence of a node that stopped");
            }
            changes.extend(taken);
        }
        changes.retain(|c| !(c.joined.is_empty() && c.left.is_empty()));
        Ok(changes)
    }

    async fn leave(&self) -> BoardResult<Vec<Changes>> {
        self.run_take_over(&self.node, true).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const URL: &str = "redis://127.0.0.1:6379";

    fn user(id: &str) -> Author {
        Author {
            id: id.into(),
            name: id.to_uppercase(),
            username: None,
        }
    }

    fn changes(joined: &[&str], left: &[&str]) -> Changes {
        Changes {
            room: "general".into(),
            online: 0,
            joined: joined.iter().map(|id| user(id)).collect(),
            renamed: Vec::new(),
            left: left.iter().map(|id| user(id)).collect(),
        }
    }

    fn ids(users: &[Author]) -> Vec<&str> {
        users.iter().map(|user| user.id.as_str()).collect()
    }

    #[tokio::test]
    async fn a_user_counts_once_over_nodes_and_a_node_that_goes_is_taken_over() {
        let redis = crate::redis::connect(URL).await.unwrap_or_else(|error| {
            panic!("this test needs Redis at {URL} (is redis-server running?): {error:#}")
        });
        let prefix = format!("chat-test-{}", uuid::Uuid::now_v7());
        let first = RedisBoard::new(redis.clone(), &prefix).await.unwrap();
        let second = RedisBoard::new(redis.clone(), &prefix).await.unwrap();

        // Ada on both nodes, Bob on the second: Ada joins once.
        let applied = first.apply(changes(&["ada"], &[])).await.unwrap();
        assert_eq!((ids(&applied.joined), applied.online), (vec!["ada"], 1));
        let applied = second.apply(changes(&["ada", "bob"], &[])).await.unwrap();
        assert_eq!((ids(&applied.joined), applied.online), (vec!["bob"], 2));
        assert_eq!(
            ids(&first.members("general").await.unwrap()),
            ["ada", "bob"]
        );

        // Ada's first node lets go: she is still online through the second.
        let applied = first.apply(changes(&[], &["ada"])).await.unwrap();
        assert!(applied.left.is_empty());
        // Leaving twice takes nothing more.
        first.apply(changes(&[], &["ada"])).await.unwrap();
        assert_eq!(second.members("general").await.unwrap().len(), 2);

        // The first node still lives: nobody takes it over.
        assert!(second.upkeep(Vec::new()).await.unwrap().is_empty());

        // The second node stops: Ada and Bob leave.
        let gone = second.leave().await.unwrap();
        assert_eq!(gone.len(), 1);
        assert_eq!(
            (ids(&gone[0].left), gone[0].online),
            (vec!["ada", "bob"], 0)
        );
        assert!(first.members("general").await.unwrap().is_empty());

        // Redis forgot the first node (a restart): its next upkeep registers its people again.
        first.apply(changes(&["cy"], &[])).await.unwrap();
        redis::cmd("DEL")
            .arg(first.alive_key(&first.node))
            .arg(first.node_key(&first.node))
            .arg(first.room_key("general"))
            .exec_async(&mut redis.clone())
            .await
            .unwrap();
        let again = first
            .upkeep(vec![("general".into(), vec![user("cy")])])
            .await
            .unwrap();
        assert_eq!(ids(&again[0].joined), ["cy"]);
        assert_eq!(ids(&first.members("general").await.unwrap()), ["cy"]);

        first.leave().await.unwrap();
        let left: Vec<String> = redis::cmd("KEYS")
            .arg(format!("{prefix}:*"))
            .query_async(&mut redis.clone())
            .await
            .unwrap();
        assert_eq!(left, Vec::<String>::new(), "nothing is left behind");
    }
}
