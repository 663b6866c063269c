//! The cases: what one fuzzing connection sends. Each is built from the connection's own seeded
//! generator, so a run's seed gives the same cases in the same connections every time.
//!
//! A case is a few Engine.IO packets (WebSocket frames, or packets of a polling body) or, over
//! long-polling, a malformed HTTP request beside the session. Its `kind` names it in the report.

use shared::{
    ArchiveRoom, ChatInput, CreateRoom, DeleteMessage, EditMessage, Event, Invite, JoinRoom,
    LeaveRoom, MarkRead, Members, NowTyping, React, Rename, Search, Sync, Unreact,
};

use crate::rng::Rng;

/// One Engine.IO packet as the client sends it.
pub enum Frame {
    Text(String),
    Binary(Vec<u8>),
}

pub struct Case {
    pub kind: &'static str,
    pub frames: Vec<Frame>,
    /// The case asks to leave the namespace (`41`): nothing answers afterwards, by design.
    pub leaves: bool,
}

/// A malformed request beside a long-polling session.
pub enum HttpCase {
    /// A request of the session's transport with this query string instead of the session's.
    Query(String),
    /// A POST to the session larger than the server accepts.
    Oversized(usize),
    /// A POST to the session whose body is not UTF-8.
    NotUtf8(Vec<u8>),
    /// A POST to the session announcing more body than it sends (then half-closed).
    Truncated,
    /// A POST to the session with broken chunked framing.
    BadChunks,
    /// Two GETs of the session at once (the second is refused and the session closed).
    TwoPolls,
    /// A method the transport does not use.
    Method(&'static str),
}

impl HttpCase {
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Query(_) => "polling_query",
            Self::Oversized(_) => "polling_oversized",
            Self::NotUtf8(_) => "polling_not_utf8",
            Self::Truncated => "polling_truncated",
            Self::BadChunks => "polling_bad_chunks",
            Self::TwoPolls => "polling_two_polls",
            Self::Method(_) => "polling_method",
        }
    }
}

/// What one connection does.
pub struct Script {
    pub polling: bool,
    /// Sent before joining the namespace.
    pub before_join: Vec<Case>,
    /// The namespace join, `40` with an `auth` (often junk).
    pub join: Case,
    pub cases: Vec<Case>,
    /// Over long-polling: requests beside the session, made after the join.
    pub http: Vec<HttpCase>,
}

impl Script {
    pub fn kinds(&self) -> impl Iterator<Item = &'static str> + '_ {
        let http = self.http.iter().map(HttpCase::kind);
        self.before_join
            .iter()
            .chain([&self.join])
            .chain(&self.cases)
            .map(|case| case.kind)
            .chain(http)
    }
}

/// Cases per connection: the first draw of its generator, so a run can count its connections
/// without building them.
pub fn cases_in(rng: &mut Rng) -> usize {
    rng.between(1, 8)
}

/// The script of a connection with `count` cases (at least 1: the join).
pub fn script(rng: &mut Rng, count: usize) -> Script {
    let polling = rng.chance(25);
    let mut rest = count - 1;
    let mut take = |rng: &mut Rng, percent| {
        let n = if rest > 0 && rng.chance(percent) {
            rng.between(1, rest.min(2))
        } else {
            0
        };
        rest -= n;
        n
    };
    let http = (0..if polling { take(rng, 40) } else { 0 })
        .map(|_| http_case(rng))
        .collect();
    let before_join = (0..take(rng, 15)).map(|_| case(rng)).collect();
    let join = join(rng);
    let cases = (0..rest).map(|_| case(rng)).collect();
    Script {
        polling,
        before_join,
        join,
        cases,
        http,
    }
}

/// The request that probes a connection after its cases: one answered with an acknowledgement
/// in every state (a refusal), whatever the connection did before.
pub fn probe(ack: u64) -> String {
    format!("42{ack}[\"{}\",{{\"room\":\"general\"}}]", LeaveRoom::NAME)
}

/// Every client event, with the places a value goes (`@`) and valid payloads.
struct Spec {
    name: &'static str,
    holes: &'static [&'static str],
    valid: &'static [&'static str],
}

const EVENTS: &[Spec] = &[
    Spec {
        name: ChatInput::NAME,
        holes: &[
            "@",
            r#"{"text":@,"room":"general","clientId":"f1"}"#,
            r#"{"text":"fuzz","room":@}"#,
            r#"{"text":"fuzz","clientId":@}"#,
            r#"{"text":"fuzz","replyTo":@}"#,
        ],
        valid: &[
            r#""fuzz""#,
            r#"{"text":"fuzz","room":"general","clientId":"f1"}"#,
            r#"{"text":"fuzz","replyTo":1}"#,
            r#"{"text":"fuzz","replyTo":-9007199254740993}"#,
            r#"{"text":"fuzz","room":"fuzz"}"#,
        ],
    },
    Spec {
        name: Sync::NAME,
        holes: &[
            r#"{"rooms":@}"#,
            r#"{"rooms":[@]}"#,
            r#"{"rooms":[{"room":@,"afterSeq":0}]}"#,
            r#"{"rooms":[{"room":"general","afterSeq":@}]}"#,
        ],
        valid: &[
            r#"{"rooms":[{"room":"general","afterSeq":0}]}"#,
            r#"{"rooms":[{"room":"fuzz","afterSeq":-5},{"room":"general","afterSeq":9007199254740993}]}"#,
        ],
    },
    Spec {
        name: EditMessage::NAME,
        holes: &[
            r#"{"room":@,"seq":1,"text":"fuzz"}"#,
            r#"{"room":"general","seq":@,"text":"fuzz"}"#,
            r#"{"room":"general","seq":1,"text":@}"#,
        ],
        valid: &[
            r#"{"room":"general","seq":1,"text":"fuzz, edited"}"#,
            r#"{"room":"fuzz","seq":-1,"text":"fuzz"}"#,
        ],
    },
    Spec {
        name: DeleteMessage::NAME,
        holes: &[r#"{"room":@,"seq":1}"#, r#"{"room":"general","seq":@}"#],
        valid: &[
            r#"{"room":"general","seq":1}"#,
            r#"{"room":"general","seq":9007199254740993}"#,
        ],
    },
    Spec {
        name: React::NAME,
        holes: &[
            r#"{"room":@,"seq":1,"emoji":"👍"}"#,
            r#"{"room":"general","seq":@,"emoji":"👍"}"#,
            r#"{"room":"general","seq":1,"emoji":@}"#,
        ],
        // No message has seq 0: every fuzzing connection is someone new, and reactions that
        // stayed would pile up on one message, which every `sync` from 0 reads (the working
        // set would grow with the run, not because anything leaks).
        valid: &[
            r#"{"room":"general","seq":0,"emoji":"👍"}"#,
            r#"{"room":"general","seq":0,"emoji":"👨🏻‍👩🏻‍👧🏻‍👦🏻"}"#,
            r#"{"room":"general","seq":1,"emoji":"🇫"}"#,
        ],
    },
    Spec {
        name: Unreact::NAME,
        holes: &[
            r#"{"room":@,"seq":1,"emoji":"👍"}"#,
            r#"{"room":"general","seq":@,"emoji":"👍"}"#,
            r#"{"room":"general","seq":1,"emoji":@}"#,
        ],
        valid: &[
            r#"{"room":"general","seq":1,"emoji":"👍"}"#,
            r#"{"room":"fuzz","seq":-1,"emoji":"👍"}"#,
        ],
    },
    Spec {
        name: CreateRoom::NAME,
        holes: &[r#"{"room":@}"#],
        valid: &[r#"{"room":"fuzz"}"#, r#"{"room":" FUZZ-2 "}"#],
    },
    Spec {
        name: JoinRoom::NAME,
        holes: &[r#"{"room":@}"#],
        valid: &[r#"{"room":"fuzz"}"#, r#"{"room":"general"}"#],
    },
    Spec {
        name: LeaveRoom::NAME,
        holes: &[r#"{"room":@}"#],
        valid: &[r#"{"room":"fuzz"}"#],
    },
    Spec {
        name: Rename::NAME,
        holes: &[r#"{"name":@}"#],
        valid: &[r#"{"name":"Fuzz"}"#],
    },
    Spec {
        name: Members::NAME,
        holes: &[r#"{"room":@}"#],
        valid: &[r#"{"room":"general"}"#],
    },
    Spec {
        name: NowTyping::NAME,
        holes: &[r#"{"room":@}"#],
        valid: &[r#"{"room":"general"}"#],
    },
    Spec {
        name: Invite::NAME,
        holes: &[
            r#"{"room":@,"user":"fuzz"}"#,
            r#"{"room":"general","user":@}"#,
        ],
        valid: &[
            r#"{"room":"general","user":"@fuzz"}"#,
            r#"{"room":"fuzz","user":"00000000-0000-0000-0000-000000000000"}"#,
        ],
    },
    Spec {
        name: MarkRead::NAME,
        holes: &[r#"{"room":@,"seq":1}"#, r#"{"room":"general","seq":@}"#],
        valid: &[
            r#"{"room":"general","seq":1}"#,
            r#"{"room":"general","seq":-9007199254740993}"#,
        ],
    },
    Spec {
        name: Search::NAME,
        holes: &["@", r#"{"query":@}"#, r#"{"query":"fuzz","room":@}"#],
        valid: &[
            r#"{"query":"fuzz"}"#,
            r#"{"query":"fu","room":"general"}"#,
            r#"{"query":"\"fuzz\"* NEAR(a b) AND x:y & | ! ( ) ^ - + {z} 'q' \\"}"#,
            r#"{"query":"ÉTÉ ﬁ σοφία 東京 \u0000 \ud83d\ude00 \u0301"}"#,
            r#"{"query":"a b c d e f g h i j k"}"#,
            r#"{"query":"fuzz","room":"fuzz"}"#,
        ],
    },
    Spec {
        name: ArchiveRoom::NAME,
        holes: &[
            r#"{"room":@,"archived":true}"#,
            r#"{"room":"fuzz","archived":@}"#,
        ],
        valid: &[r#"{"room":"fuzz","archived":true}"#],
    },
];

/// Names no handler is registered for, and names with a meaning elsewhere.
const UNKNOWN_EVENTS: &[&str] = &[
    "welcome",
    "chatError",
    "presence",
    "roomHead",
    "connect",
    "disconnect",
    "error",
    "newListener",
    "__proto__",
    "constructor",
    "",
];

/// A JSON string of `text`.
fn quoted(text: &str) -> String {
    serde_json::Value::from(text).to_string()
}

/// `depth` arrays inside each other: JSON no recursive parser without a limit survives.
fn nested(depth: usize) -> String {
    format!("{}{}", "[".repeat(depth), "]".repeat(depth))
}

/// A value of the wrong type, or of the right type but absurd: written as JSON text, since a
/// nested value this deep would overflow this program's own stack as a `serde_json::Value`.
fn wrong_value(rng: &mut Rng) -> String {
    match rng.below(18) {
        0 => "null".into(),
        1 => "true".into(),
        2 => "0".into(),
        3 => "-1".into(),
        4 => "18446744073709551616".into(),
        5 => "-9223372036854775809".into(),
        6 => "1e999".into(),
        7 => "0.5".into(),
        8 => r#""""#.into(),
        9 => quoted(&rng.text(1, 80)),
        10 => quoted(&"x".repeat(rng.between(1_000, 70_000))),
        11 => "[]".into(),
        12 => "{}".into(),
        13 => nested(rng.between(2, 20_000)),
        14 => format!("[{}0]", "0,".repeat(rng.between(1, 20_000))),
        15 => {
            let keys = (0..rng.between(1, 3_000)).map(|key| format!("\"k{key}\":{key}"));
            format!("{{{}}}", keys.collect::<Vec<_>>().join(","))
        }
        16 => format!(
            "{}1{}",
            "{\"a\":".repeat(rng.between(2, 10_000)),
            "}".repeat(rng.between(0, 10_000))
        ),
        _ => quoted("general\u{0}"),
    }
}

/// `42[ack][name,payload...]`: an event packet in an Engine.IO message.
fn event(rng: &mut Rng, name: &str, args: &[String]) -> String {
    let ack = if rng.chance(50) {
        rng.below(1_000).to_string()
    } else {
        String::new()
    };
    let mut packet = format!("42{ack}[{}", quoted(name));
    for arg in args {
        packet.push(',');
        packet.push_str(arg);
    }
    packet.push(']');
    packet
}

fn text_case(kind: &'static str, packet: String) -> Case {
    Case {
        kind,
        frames: vec![Frame::Text(packet)],
        leaves: false,
    }
}

/// One case after the join (or before it).
pub fn case(rng: &mut Rng) -> Case {
    match rng.below(100) {
        0..10 => engine_io(rng),
        10..25 => socket_io(rng),
        25..55 => {
            let spec = rng.pick(EVENTS);
            let payload = rng.pick(spec.holes).replace('@', &wrong_value(rng));
            text_case("wrong_field", event(rng, spec.name, &[payload]))
        }
        55..63 => {
            let spec = rng.pick(EVENTS);
            let args: Vec<String> = (0..rng.below(4)).map(|_| wrong_value(rng)).collect();
            text_case("wrong_payload", event(rng, spec.name, &args))
        }
        63..72 => huge(rng),
        72..80 => binary(rng),
        80..90 => {
            let name = match rng.below(3) {
                0 => rng.pick(UNKNOWN_EVENTS).to_string(),
                1 => rng.text(1, 40),
                _ => "e".repeat(rng.between(100, 60_000)),
            };
            let args = [rng.pick(EVENTS).valid[0].to_owned()];
            text_case("unknown_event", event(rng, &name, &args))
        }
        _ => {
            let spec = rng.pick(EVENTS);
            let payload = rng.pick(spec.valid).to_string();
            text_case("valid", event(rng, spec.name, &[payload]))
        }
    }
}

/// Engine.IO packets that are unknown, truncated, out of place or garbage.
fn engine_io(rng: &mut Rng) -> Case {
    const PACKETS: &[&str] = &[
        "",
        "7",
        "8abc",
        "9",
        "x",
        "é",
        "0",
        "0{}",
        "1",
        "2",
        "2probe",
        "3",
        "3probe",
        "5",
        "6",
        "4",
        "\u{1e}",
        "4\u{1e}42[\"typing\",{}]",
    ];
    let packet = if rng.chance(70) {
        rng.pick(PACKETS).to_string()
    } else {
        rng.text(1, 300)
    };
    text_case("engine_io", packet)
}

/// Socket.io packets with unknown types, other namespaces, bad acknowledgement ids, broken JSON.
fn socket_io(rng: &mut Rng) -> Case {
    const PACKETS: &[&str] = &[
        "47",
        "48[]",
        "49",
        "4a",
        "42",
        "42[",
        "42[\"chatMessage\"",
        "42[\"chatMessage\",]",
        "42{}",
        "42\"chatMessage\"",
        "42[]",
        "42[null]",
        "42[1,2]",
        "42[[\"chatMessage\"]]",
        "42[\"chatMessage\",\"x\"]]]",
        "42 [\"chatMessage\",\"x\"]",
        "42[\"chatMessage\",\"\\ud800\"]",
        "42/admin,[\"chatMessage\",\"x\"]",
        "40/admin,",
        "40/admin,{\"token\":1}",
        "40/,",
        "42/,[\"members\",{\"room\":\"general\"}]",
        "42/admin",
        "41/admin,",
        "4218446744073709551616[\"members\",{\"room\":\"general\"}]",
        "42-1[\"members\",{\"room\":\"general\"}]",
        "4200000000000000000001[\"members\",{\"room\":\"general\"}]",
        "421a[\"members\",{\"room\":\"general\"}]",
        "43[]",
        "431[{}]",
        "4399999[\"status\"]",
        "43abc",
        "44{\"message\":\"x\"}",
        "44",
        "40",
        "40{}",
    ];
    if rng.chance(5) {
        return Case {
            kind: "socket_io",
            frames: vec![Frame::Text("41".into())],
            leaves: true,
        };
    }
    let packet = if rng.chance(80) {
        rng.pick(PACKETS).to_string()
    } else {
        let namespace = rng.text(1, 50).replace(',', "");
        format!("4{}/{namespace},[\"typing\",{{}}]", rng.below(7))
    };
    text_case("socket_io", packet)
}

/// Deeply nested and huge JSON, near and past the packet limit.
fn huge(rng: &mut Rng) -> Case {
    let packet = match rng.below(6) {
        // Past the 64 KiB limit before anything parses it.
        0 => format!("42[\"chatMessage\",{}", "[".repeat(100_000)),
        1 => format!("42[\"chatMessage\",{}]", nested(rng.between(100, 32_000))),
        2 => format!("42[\"chatMessage\",{}]", quoted(&rng.text(2_001, 20_000))),
        3 => {
            let rooms = (0..rng.between(90, 5_000))
                .map(|n| format!("{{\"room\":\"r{n}\",\"afterSeq\":0}}"))
                .collect::<Vec<_>>();
            event(
                rng,
                Sync::NAME,
                &[format!("{{\"rooms\":[{}]}}", rooms.join(","))],
            )
        }
        4 => format!("42[\"members\",{}0]", "0,".repeat(rng.between(100, 40_000))),
        _ => format!("4{}", "x".repeat(rng.between(60_000, 70_000))),
    };
    text_case("huge", packet)
}

/// Binary packets whose attachments are missing, miscounted or never announced.
fn binary(rng: &mut Rng) -> Case {
    const ANNOUNCED: &[&str] = &[
        "451-[\"chatMessage\",{\"_placeholder\":true,\"num\":0}]",
        "452-[\"chatMessage\",{\"_placeholder\":true,\"num\":0},{\"_placeholder\":true,\"num\":1}]",
        "450-[\"chatMessage\",{\"_placeholder\":true,\"num\":0}]",
        "45-[\"chatMessage\",{\"_placeholder\":true,\"num\":0}]",
        "45x-[\"chatMessage\"]",
        "4518446744073709551616-[\"chatMessage\"]",
        "451-7[\"members\",{\"_placeholder\":true,\"num\":3}]",
        "461-1[{\"_placeholder\":true,\"num\":0}]",
    ];
    let mut frames = Vec::new();
    if rng.chance(80) {
        frames.push(Frame::Text(rng.pick(ANNOUNCED).to_string()));
    }
    if frames.is_empty() || rng.chance(30) {
        let len = if rng.chance(10) {
            70_000
        } else {
            rng.below(1_000)
        };
        frames.push(Frame::Binary(
            (0..len).map(|_| rng.next_u64().to_le_bytes()[0]).collect(),
        ));
    }
    Case {
        kind: "binary",
        frames,
        leaves: false,
    }
}

/// The namespace join: `40` with an `auth` that is mostly junk.
fn join(rng: &mut Rng) -> Case {
    let auth = match rng.below(12) {
        0..3 => String::new(),
        3 => "{}".into(),
        4 => r#"{"name":"Fuzz"}"#.into(),
        5 => format!("{{\"token\":{}}}", wrong_value(rng)),
        6 => format!("{{\"name\":{}}}", wrong_value(rng)),
        7 => format!("{{\"token\":\"g.{}.{}\"}}", rng.next_u64(), rng.next_u64()),
        8 => r#"{"name":"Fuzz","token":"0000","extra":[1]}"#.into(),
        9 => "{".into(),
        _ => wrong_value(rng),
    };
    text_case("join", format!("40{auth}"))
}

fn http_case(rng: &mut Rng) -> HttpCase {
    match rng.below(7) {
        0 => HttpCase::Query(
            (*rng.pick(&[
                "EIO=3&transport=polling",
                "EIO=5&transport=polling",
                "EIO=abc&transport=polling",
                "transport=polling",
                "EIO=4&transport=flashsocket",
                "EIO=4",
                "EIO=4&transport=polling&sid=",
                "EIO=4&transport=polling&sid=AAAAAAAAAAAAAAAAAAAAAA",
                "EIO=4&transport=polling&sid=%00%ff",
                "EIO=4&transport=polling&sid=../../etc",
                "EIO=4&transport=websocket",
            ]))
            .to_owned(),
        ),
        1 => HttpCase::Oversized(rng.between(65_537, 300_000)),
        2 => {
            let mut body = b"42[\"chatMessage\",\"".to_vec();
            body.extend((0..rng.between(1, 200)).map(|_| rng.next_u64().to_le_bytes()[0] | 0x80));
            body.extend(b"\"]");
            HttpCase::NotUtf8(body)
        }
        3 => HttpCase::Truncated,
        4 => HttpCase::BadChunks,
        5 => HttpCase::TwoPolls,
        _ => {
            const METHODS: &[&str] = &["PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"];
            HttpCase::Method(METHODS[rng.below(METHODS.len())])
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_script_has_the_cases_counted_for_it() {
        for connection in 0..500 {
            let mut rng = Rng::for_connection(42, connection);
            let count = cases_in(&mut rng);
            let script = script(&mut rng, count);
            assert_eq!(script.kinds().count(), count);
        }
    }

    #[test]
    fn every_event_has_a_hole_in_each_template() {
        for spec in EVENTS {
            assert!(spec.holes.iter().all(|hole| hole.matches('@').count() == 1));
            for valid in spec.valid {
                serde_json::from_str::<serde_json::Value>(valid).expect(valid);
            }
        }
    }
}
