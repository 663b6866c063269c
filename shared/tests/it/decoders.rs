//! Every payload that crosses the wire, in either direction, decoded from arbitrary JSON.

use std::fmt::Debug;

use proptest::{prelude::*, test_runner::TestCaseError};
use serde::{Serialize, de::DeserializeOwned};
use serde_json::{Map, Value};
use shared::{
    AccountInfo, Ack, Auth, Changed, ChatInput, ChatMessage, CreateRoom, Credentials,
    DeleteMessage, Done, EditMessage, ErrorCode, ErrorPayload, Invite, Invited, JoinRoom, Joined,
    LeaveRoom, MemberList, Members, MessageChanged, NowTyping, PresenceChange, Registration,
    RegistrationInfo, Rename, Renamed, Role, RoomHead, Sent, ServerInfo, SessionInfo, Sync, Synced,
    Typing, UserEntry, Welcome,
};

/// Field names of the protocol, so that generated objects often have the expected keys (with
/// values of any type) rather than never reaching past the first missing field.
const KEYS: &[&str] = &[
    "text",
    "room",
    "clientId",
    "rooms",
    "afterSeq",
    "name",
    "token",
    "user",
    "id",
    "seq",
    "author",
    "sentAt",
    "status",
    "error",
    "code",
    "message",
    "messages",
    "more",
    "members",
    "online",
    "joined",
    "left",
    "partial",
    "lastSeq",
    "maxMessageChars",
    "username",
    "password",
    "role",
    "target",
    "change",
    "changes",
    "edited",
    "deleted",
    "editedAt",
    "by",
];

fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        "\\PC{0,20}".prop_map(Value::from),
        prop::sample::select(KEYS).prop_map(Value::from),
        Just(Value::from("general")),
        Just(Value::from("ok")),
        Just(Value::from("error")),
    ];
    leaf.prop_recursive(6, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((prop::sample::select(KEYS), inner), 0..8).prop_map(|fields| {
                Value::Object(
                    fields
                        .into_iter()
                        .map(|(key, value)| (key.to_owned(), value))
                        .collect::<Map<_, _>>(),
                )
            }),
        ]
    })
}

/// Decoding `value` as `T` returns (never panics); what it decodes to encodes to JSON that
/// decodes to the same again.
fn round_trips<T>(value: &Value) -> Result<(), TestCaseError>
where
    T: Serialize + DeserializeOwned + PartialEq + Debug,
{
    if let Ok(decoded) = serde_json::from_value::<T>(value.clone()) {
        let encoded = serde_json::to_value(&decoded).expect("encodes");
        let again = serde_json::from_value::<T>(encoded.clone())
            .map_err(|error| TestCaseError::fail(format!("{encoded} does not decode: {error}")))?;
        prop_assert_eq!(again, decoded);
    }
    Ok(())
}

/// [`round_trips`] for every payload type, the requests' acknowledgements included.
fn every_payload(value: &Value) -> Result<(), TestCaseError> {
    // Client to server.
    round_trips::<ChatInput>(value)?;
    round_trips::<Sync>(value)?;
    round_trips::<CreateRoom>(value)?;
    round_trips::<JoinRoom>(value)?;
    round_trips::<Invite>(value)?;
    round_trips::<LeaveRoom>(value)?;
    round_trips::<Rename>(value)?;
    round_trips::<Members>(value)?;
    round_trips::<NowTyping>(value)?;
    round_trips::<EditMessage>(value)?;
    round_trips::<DeleteMessage>(value)?;
    round_trips::<Auth>(value)?;
    round_trips::<Credentials>(value)?;
    // Server to client.
    round_trips::<Ack<Sent>>(value)?;
    round_trips::<Ack<Synced>>(value)?;
    round_trips::<Ack<Joined>>(value)?;
    round_trips::<Ack<Done>>(value)?;
    round_trips::<Ack<Changed>>(value)?;
    round_trips::<MessageChanged>(value)?;
    round_trips::<Ack<Renamed>>(value)?;
    round_trips::<Ack<MemberList>>(value)?;
    round_trips::<Welcome>(value)?;
    round_trips::<ChatMessage>(value)?;
    round_trips::<PresenceChange>(value)?;
    round_trips::<Typing>(value)?;
    round_trips::<RoomHead>(value)?;
    round_trips::<Invited>(value)?;
    round_trips::<ErrorPayload>(value)?;
    round_trips::<ErrorCode>(value)?;
    round_trips::<Role>(value)?;
    round_trips::<Registration>(value)?;
    round_trips::<ServerInfo>(value)?;
    round_trips::<RegistrationInfo>(value)?;
    round_trips::<AccountInfo>(value)?;
    round_trips::<UserEntry>(value)?;
    round_trips::<SessionInfo>(value)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    #[test]
    fn payloads_decode_any_json_and_round_trip(value in any_json()) {
        every_payload(&value)?;
        // The same value under each acknowledgement status, and as the original bare string.
        for status in ["ok", "error"] {
            if let Value::Object(mut fields) = value.clone() {
                fields.insert("status".into(), status.into());
                every_payload(&Value::Object(fields))?;
            }
        }
    }

    #[test]
    fn payloads_decode_any_text(text in "\\PC{0,200}") {
        // Malformed JSON is an error, never a panic.
        let _ = serde_json::from_str::<ChatInput>(&text);
        let _ = serde_json::from_str::<Sync>(&text);
        let _ = serde_json::from_str::<Ack<Synced>>(&text);
        let _ = serde_json::from_str::<Welcome>(&text);
    }

    #[test]
    fn unknown_error_codes_are_unknown(code in "[a-z_]{0,30}") {
        let decoded: ErrorCode = serde_json::from_value(Value::from(code.as_str()))
            .expect("any string is a code");
        if decoded != ErrorCode::Unknown {
            // A code this build knows is spelled one way only.
            prop_assert_eq!(serde_json::to_value(decoded).expect("encodes"), Value::from(code));
        }
    }
}

#[test]
fn deep_nesting_is_refused_not_a_stack_overflow() {
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    assert!(serde_json::from_str::<ChatInput>(&deep).is_err());
    let deep_object = format!(
        "{}\"x\"{}",
        "{\"text\":".repeat(100_000),
        "}".repeat(100_000)
    );
    assert!(serde_json::from_str::<ChatInput>(&deep_object).is_err());
}
