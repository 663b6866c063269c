//! The chat domain: sessions, rooms and membership, messages, and who is online.
//!
//! It knows nothing of Socket.io or HTTP; the transport and the server functions call it with
//! typed values, and [`crate::error`] turns a [`ChatError`] into what a client sees. Everything
//! that must survive a restart or be shared between nodes goes through the [`Store`].

mod accounts;
mod direct;
mod files;
mod images;
mod permissions;

use permissions::{Action, allow};
mod presence;

use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use shared::{
    AccountInfo, Auth, Author, Change, ChatInput, ChatMessage, DEFAULT_ROOM, DeletedBy, ErrorCode,
    MAX_DIRECT_PEOPLE, MAX_REACTIONS, MAX_SEARCH_RESULTS, MessageChanged, PresenceChange, Reaction,
    ReadUpTo, RoomCursor, RoomInfo, Synced, ValidationError, is_direct_room, search_words,
    validate_caption, validate_client_id, validate_emoji, validate_mentions, validate_name,
    validate_room, validate_text,
};

pub use accounts::{AccountPolicy, Register, reset_password, session_id};
pub use files::{FileContent, Requester};
use presence::Presence;
pub use presence::{Board, BoardResult, Changes, ConnectionId};

pub use crate::store::Posted;
pub use crate::store::RoomLimits;
use crate::store::{Identity, NewChange, NewMessage, Store, StoreError};

/// Most messages and changes one `sync` returns per room; a client that gets this many syncs
/// again.
pub const SYNC_PAGE: u32 = 500;
/// Most distinct rooms one `sync` may name.
pub const SYNC_MAX_ROOMS: usize = 100;
/// Most bytes one `sync` reply carries in all, counted as each message's text, name, ids and
/// [`MESSAGE_OVERHEAD`]: what bounds the reply's size (a page of 500 messages of 2,000
/// four-byte characters is 4 MB; 100 rooms of 500 short ones would be 50,000 messages).
pub const SYNC_MAX_BYTES: usize = 1 << 20;
/// Bytes a message takes on the wire besides its strings (field names, numbers, quotes), about.
const MESSAGE_OVERHEAD: usize = 120;
/// The same for each of its reactions, and for each person who reacted.
const REACTOR_OVERHEAD: usize = 40;
/// Most messages one history page returns.
pub const PAGE_LIMIT: u32 = 100;

#[derive(Debug, thiserror::Error)]
pub enum ChatError {
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    #[error("A sync names at most {SYNC_MAX_ROOMS} rooms.")]
    TooManySyncRooms,
    #[error("A room with that name already exists.")]
    RoomExists,
    #[error("There is no room with that name.")]
    RoomNotFound,
    #[error("Join the room first.")]
    NotMember,
    #[error("There is no message with that number in this room.")]
    MessageNotFound,
    #[error("That message was deleted.")]
    MessageDeleted,
    #[error("This message has {MAX_REACTIONS} different reactions already.")]
    TooManyReactions,
    #[error("This room is archived: it can be read, not written to.")]
    RoomArchived,
    #[error("Everyone stays in #{DEFAULT_ROOM}.")]
    CannotLeaveDefault,
    #[error("The server holds as many rooms as it allows.")]
    TooManyRooms,
    #[error("You are in as many rooms as allowed; leave one first.")]
    TooManyMemberships,
    #[error("Your session is unknown; reconnect.")]
    UnknownSession,
    #[error("This chat is for members: log in first.")]
    MembersOnly,
    #[error("Wrong username or password.")]
    WrongCredentials,
    #[error("Another account has that username, or one that looks the same.")]
    UsernameTaken,
    #[error("{}", if *.0 {
        "This chat takes new accounts by invitation: ask an admin for the join link."
    } else {
        "This chat does not take new accounts."
    })]
    RegistrationClosed(bool),
    #[error("You have an account already: log in instead.")]
    AccountExists,
    #[error("Guests have no password: create an account first.")]
    NoAccount,
    #[error("No session of yours has that id.")]
    SessionNotFound,
    #[error("You are not allowed to do that.")]
    Forbidden,
    #[error("An admin banned you from this chat.")]
    Banned,
    #[error("No one here has that id or username.")]
    UserNotFound,
    #[error("A direct conversation is with 1 to {} other people.", MAX_DIRECT_PEOPLE - 1)]
    DirectPeople,
    #[error("The chat needs an admin: make someone else an admin first.")]
    LastAdmin,
    #[error("Too many attempts; wait a minute and try again.")]
    RateLimited,
    #[error("This file is larger than the server takes ({} at most).", files::megabytes(*.0))]
    FileTooLarge(u64),
    #[error("There is no such file here for you.")]
    FileNotFound,
    #[error("The server is handling as many files as it will at once; try again shortly.")]
    Overloaded,
    #[error("The server could not do that right now; try again.")]
    Hashing(String),
    #[error("storage failed: {0}")]
    Store(StoreError),
}

impl ChatError {
    /// The stable code clients see.
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::Invalid(error) => error.code(),
            Self::TooManySyncRooms => ErrorCode::InvalidPayload,
            Self::RoomExists => ErrorCode::RoomExists,
            Self::RoomNotFound => ErrorCode::RoomNotFound,
            Self::NotMember => ErrorCode::NotAMember,
            Self::MessageNotFound => ErrorCode::MessageNotFound,
            Self::MessageDeleted => ErrorCode::MessageDeleted,
            Self::TooManyReactions => ErrorCode::TooManyReactions,
            Self::RoomArchived => ErrorCode::RoomArchived,
            Self::CannotLeaveDefault => ErrorCode::CannotLeaveDefaultRoom,
            Self::TooManyRooms | Self::TooManyMemberships => ErrorCode::TooManyRooms,
            Self::UnknownSession => ErrorCode::UnknownSession,
            Self::MembersOnly | Self::WrongCredentials => ErrorCode::Unauthorized,
            Self::UsernameTaken => ErrorCode::UsernameTaken,
            Self::RegistrationClosed(_) => ErrorCode::RegistrationClosed,
            Self::AccountExists | Self::NoAccount | Self::Forbidden | Self::LastAdmin => {
                ErrorCode::Forbidden
            }
            Self::Banned => ErrorCode::Banned,
            Self::UserNotFound | Self::DirectPeople => ErrorCode::InvalidPayload,
            Self::SessionNotFound => ErrorCode::InvalidPayload,
            Self::RateLimited => ErrorCode::RateLimited,
            Self::FileTooLarge(_) => ErrorCode::FileTooLarge,
            Self::FileNotFound => ErrorCode::FileNotFound,
            Self::Overloaded => ErrorCode::Overloaded,
            Self::Hashing(_) => ErrorCode::Internal,
            Self::Store(StoreError::Unavailable(_)) => ErrorCode::Unavailable,
            Self::Store(_) => ErrorCode::Internal,
        }
    }
}

pub type ChatResult<T> = Result<T, ChatError>;

/// Who a connection is, once its handshake is resolved.
#[derive(Debug, Clone)]
pub struct Session {
    pub user: Author,
    /// The secret to present next time. Only its hash is stored.
    pub token: String,
    /// The user's rooms, the default room first.
    pub rooms: Vec<RoomInfo>,
    /// Whether the user is in the store. A guest (a client that connected without `auth`) is
    /// not, until it does something that must be remembered (see [`Chat::remember`]): a
    /// thousand bare clients connecting cost no database writes.
    pub stored: bool,
    /// The user's account; `None` for a guest.
    pub account: Option<AccountInfo>,
}

/// The rooms a connection is in right now. The transport answers from the socket's rooms in the
/// adapter, which follow every join and leave of the user on any node; the chat decides with it
/// whether the connection may post, sync or look in a room.
pub trait InRooms {
    fn contains(&self, room: &str) -> bool;
}

/// The chat service, cheap to clone.
#[derive(Clone)]
pub struct Chat {
    store: Arc<dyn Store>,
    limits: RoomLimits,
    /// Signs guests' tokens (see [`Chat::guest_token`]); the same on every node.
    key: Arc<[u8]>,
    /// Who is online where, on this node.
    presence: Arc<Presence>,
    /// Presence over all nodes, in a cluster.
    board: Option<Arc<dyn Board>>,
    policy: Arc<AccountPolicy>,
    throttles: Arc<accounts::Throttles>,
}

impl Chat {
    /// The chat over `store`, with guests' tokens signed by the store's server key; `board`
    /// shares presence with the other nodes of a cluster.
    pub async fn new(
        store: Arc<dyn Store>,
        limits: RoomLimits,
        board: Option<Arc<dyn Board>>,
        policy: AccountPolicy,
    ) -> ChatResult<Self> {
        let key = store.server_key().await?.into();
        let chat = Self {
            store,
            limits,
            key,
            presence: Arc::default(),
            board,
            throttles: Arc::new(accounts::Throttles::new(&policy)),
            policy: Arc::new(policy),
        };
        chat.apply_policy().await?;
        Ok(chat)
    }

    /// Resolves a handshake: a known token is the same person again (a guest's too, stored or
    /// not); anything else is a new session, named as asked or as a guest.
    pub async fn open_session(&self, auth: Auth, address: Option<IpAddr>) -> ChatResult<Session> {
        if let Some(token) = &auth.token {
            match self.identity(token).await {
                Ok(identity) => return self.session_of(identity, token, address).await,
                Err(ChatError::UnknownSession) => {}
                Err(error) => return Err(error),
            }
        }
        if !self.policy.guests {
            return Err(ChatError::MembersOnly);
        }
        let id = uuid::Uuid::now_v7().to_string();
        let Some(name) = &auth.name else {
            let token = self.guest_token(&id);
            return self.guest_session(id, token).await;
        };
        let token = new_token();
        let user = Author::guest(id, validate_name(name)?);
        let token_hash = hash(&token);
        let address = address.map(|address| address.to_string());
        self.store
            .create_user(
                &user,
                self.new_session(&token_hash, &user.id, address.as_deref()),
            )
            .await?;
        Ok(Session {
            user,
            token,
            rooms: vec![self.default_room().await?],
            stored: true,
            account: None,
        })
    }

    /// The session of a known token: a stored one (its use recorded), or a guest's that was
    /// never stored.
    async fn session_of(
        &self,
        identity: Identity,
        token: &str,
        address: Option<IpAddr>,
    ) -> ChatResult<Session> {
        let stored = identity.last_used_at.is_some();
        let rooms = if stored {
            self.touch(token, &identity, address).await?;
            self.rooms_of(&identity.user.id).await?
        } else {
            vec![self.default_room().await?]
        };
        Ok(Session {
            user: identity.user,
            token: token.to_owned(),
            rooms,
            stored,
            account: identity.account,
        })
    }

    /// A guest session: in the default room only, stored nowhere yet.
    async fn guest_session(&self, id: String, token: String) -> ChatResult<Session> {
        Ok(Session {
            user: guest(id),
            token,
            rooms: vec![self.default_room().await?],
            stored: false,
            account: None,
        })
    }

    /// A guest's token: `g.<id>.<signature>`. It needs no write to be handed out, and
    /// [`Chat::guest_id`] recognises it later on any node.
    fn guest_token(&self, id: &str) -> String {
        let signature = self.signer(id).finalize().into_bytes();
        format!("g.{id}.{}", to_hex(&signature))
    }

    /// The guest id a token signed by [`Chat::guest_token`] names.
    fn guest_id(&self, token: &str) -> Option<String> {
        let (id, signature) = token.strip_prefix("g.")?.rsplit_once('.')?;
        // One spelling per guest: the id and signature exactly as handed out.
        let lower_hex = |c: char| c.is_ascii_digit() || ('a'..='f').contains(&c);
        if signature.len() != 64 || !signature.chars().all(lower_hex) {
            return None;
        }
        if uuid::Uuid::parse_str(id).ok()?.hyphenated().to_string() != id {
            return None;
        }
        self.signer(id).verify_slice(&from_hex(signature)?).ok()?;
        Some(id.to_owned())
    }

    fn signer(&self, id: &str) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes any key size");
        mac.update(id.as_bytes());
        mac
    }

    /// Stores a guest, so that its rooms and name can be remembered. Safe to call twice at once.
    pub async fn remember(&self, user: &Author, token: &str) -> ChatResult<()> {
        let token_hash = hash(token);
        Ok(self
            .store
            .create_user(user, self.new_session(&token_hash, &user.id, None))
            .await?)
    }

    /// Renames the user. `remember` stores a guest first; it runs only once the request is
    /// known to be acceptable, so a refusal stores nothing.
    pub async fn rename(
        &self,
        user: &Author,
        name: &str,
        remember: impl AsyncFnOnce() -> ChatResult<()>,
    ) -> ChatResult<Author> {
        let name = validate_name(name)?;
        remember().await?;
        self.store.rename_user(&user.id, name).await?;
        let renamed = Author {
            name: name.to_owned(),
            ..user.clone()
        };
        self.presence.renamed(&renamed);
        Ok(renamed)
    }

    /// Validates and stores a message from a connection that is in `rooms`. A reply must
    /// answer a message of the same room (deleted or not); each mention must be named in the
    /// text (whoever it names reads the message only if they can read the room).
    pub async fn post(
        &self,
        author: &Author,
        rooms: &impl InRooms,
        input: ChatInput,
    ) -> ChatResult<Posted> {
        let attachment = input.attachment().map(str::to_owned);
        let text = match attachment {
            Some(_) => validate_caption(input.text())?,
            None => validate_text(input.text())?,
        }
        .to_owned();
        validate_mentions(&text, input.mentions())?;
        let client_id = input
            .client_id()
            .map(validate_client_id)
            .transpose()?
            .map(str::to_owned);
        let room = self.member_room(rooms, input.room()).await?;
        let file = match &attachment {
            Some(id) => Some(
                self.attachable(author, &room, id, client_id.as_deref())
                    .await?,
            ),
            None => None,
        };
        let reply_to = input.reply_to();
        if let Some(original) = reply_to
            && self.store.message(&room, original).await?.is_none()
        {
            return Err(ChatError::MessageNotFound);
        }
        let posted = self
            .store
            .append(NewMessage {
                id: uuid::Uuid::now_v7().to_string(),
                room: room.clone(),
                text,
                author: author.clone(),
                sent_at: now_millis(),
                client_id,
                reply_to,
                attachment,
                mentions: input.mentions().to_vec(),
            })
            .await;
        match posted {
            // The batch skips an archived room like a missing one; which it is, is asked only
            // then.
            Err(StoreError::RoomNotFound) => Err(match self.store.room(&room).await? {
                Some(info) if info.archived => ChatError::RoomArchived,
                _ => ChatError::RoomNotFound,
            }),
            // A reply's quote, and a retry's reactions, are read once it is stored: a change to
            // the original (or the retry) made meanwhile is in what is read, or takes a later
            // seq than the message and is applied to it after.
            Ok(Posted::New(message)) if reply_to.is_some() => {
                Ok(Posted::New(self.as_it_is_now(message).await?))
            }
            Ok(Posted::Duplicate(message)) => {
                Ok(Posted::Duplicate(self.as_it_is_now(message).await?))
            }
            // The file as it was just checked: it cannot change while its message is stored.
            Ok(Posted::New(mut message)) => {
                message.attachment = file;
                Ok(Posted::New(message))
            }
            posted => Ok(posted?),
        }
    }

    /// A stored message as the store reads it now.
    async fn as_it_is_now(&self, message: ChatMessage) -> ChatResult<ChatMessage> {
        self.store
            .message(&message.room, message.seq)
            .await?
            .ok_or(ChatError::MessageNotFound)
    }

    /// `user` has read `room` (which the connection, in `rooms`, is in) up to `seq`: their
    /// position there moves forward to it. Returns the room's name.
    pub async fn mark_read(
        &self,
        user: &Author,
        rooms: &impl InRooms,
        room: &str,
        seq: i64,
    ) -> ChatResult<String> {
        let room = self.member_room(rooms, room).await?;
        self.store.mark_read(&user.id, &room, seq.max(0)).await?;
        Ok(room)
    }

    /// How far `user` has read their rooms, as stored.
    pub async fn read_positions(&self, user: &Author) -> ChatResult<Vec<ReadUpTo>> {
        let positions = self.store.read_positions(&user.id).await?;
        Ok(positions
            .into_iter()
            .map(|(room, seq)| ReadUpTo { room, seq })
            .collect())
    }

    /// Archives `room` (read only from then on) or takes it out of the archive, for the session
    /// `token` (an admin's). `#general` stays open.
    pub async fn archive(&self, token: &str, room: &str, archived: bool) -> ChatResult<RoomInfo> {
        let actor = self.identity(token).await?;
        let room = validate_room(room)?;
        allow(
            &actor,
            Action::ArchiveRoom {
                direct: is_direct_room(&room),
            },
        )?;
        if room == DEFAULT_ROOM {
            return Err(ChatError::Forbidden);
        }
        self.store
            .set_archived(&room, archived.then(now_millis))
            .await?
            .ok_or(ChatError::RoomNotFound)
    }

    /// Replaces the text of message `seq` of `room` for the session `token` (its author), on a
    /// connection in `rooms`. Returns the change, or `None` if the text is the same.
    pub async fn edit(
        &self,
        token: &str,
        rooms: &impl InRooms,
        room: &str,
        seq: i64,
        text: &str,
    ) -> ChatResult<Option<MessageChanged>> {
        let text = validate_text(text)?.to_owned();
        self.change(token, rooms, room, seq, Some(text)).await
    }

    /// Deletes message `seq` of `room` for the session `token` (its author, or an admin), on a
    /// connection in `rooms`. Returns the change, or `None` if it was deleted already.
    pub async fn delete(
        &self,
        token: &str,
        rooms: &impl InRooms,
        room: &str,
        seq: i64,
    ) -> ChatResult<Option<MessageChanged>> {
        self.change(token, rooms, room, seq, None).await
    }

    /// Adds (`on`) or takes away the reaction `emoji` of the session `token`'s user to message
    /// `seq` of `room`, on a connection in `rooms`: anyone who can read the room may react.
    /// Returns the change, or `None` if the reaction was already there (or already gone).
    pub async fn react(
        &self,
        token: &str,
        rooms: &impl InRooms,
        room: &str,
        seq: i64,
        emoji: &str,
        on: bool,
    ) -> ChatResult<Option<MessageChanged>> {
        let emoji = validate_emoji(emoji)?.to_owned();
        let actor = self.identity(token).await?;
        let room = self.readable_room(&actor, rooms, room).await?;
        // Read first, as for an edit: a seq that is no message's costs no write transaction.
        match self.store.message(&room, seq).await? {
            None => return Err(ChatError::MessageNotFound),
            Some(message) if message.deleted.is_some() => return Err(ChatError::MessageDeleted),
            Some(_) => {}
        }
        let user = actor.user;
        let actor_id = user.id.clone();
        let change = if on {
            Change::Reacted { emoji, user }
        } else {
            Change::Unreacted { emoji, user }
        };
        Ok(self
            .store
            .change(NewChange {
                room,
                target: seq,
                actor_id,
                at: now_millis(),
                change,
            })
            .await?)
    }

    /// An edit (`Some` new text, validated) or a deletion (`None`) of a message in a room the
    /// actor can read, if the rules allow it. The room is checked before the message, so a
    /// private room's outsider learns nothing of its messages.
    async fn change(
        &self,
        token: &str,
        rooms: &impl InRooms,
        room: &str,
        seq: i64,
        edit: Option<String>,
    ) -> ChatResult<Option<MessageChanged>> {
        let actor = self.identity(token).await?;
        let room = self.readable_room(&actor, rooms, room).await?;
        let target = self
            .store
            .message(&room, seq)
            .await?
            .ok_or(ChatError::MessageNotFound)?;
        let own = target.author.id == actor.user.id;
        let at = now_millis();
        let change = match edit {
            Some(text) => {
                allow(&actor, Action::EditMessage { own })?;
                Change::Edited {
                    text,
                    edited_at: at,
                }
            }
            None => {
                allow(&actor, Action::DeleteMessage { own })?;
                let by = if own {
                    DeletedBy::Author
                } else {
                    DeletedBy::Admin
                };
                Change::Deleted { by }
            }
        };
        Ok(self
            .store
            .change(NewChange {
                room,
                target: seq,
                actor_id: actor.user.id,
                at,
                change,
            })
            .await?)
    }

    /// The canonical name of `room` if `actor` may read it: a room the connection is in, or
    /// any public room. A private room's outsider is told `not_a_member`, as by
    /// [`Chat::member_room`].
    async fn readable_room(
        &self,
        actor: &Identity,
        rooms: &impl InRooms,
        room: &str,
    ) -> ChatResult<String> {
        match self.member_room(rooms, room).await {
            Err(ChatError::NotMember) => {}
            decided => return decided,
        }
        let room = validate_room(room)?;
        let info = self
            .store
            .room(&room)
            .await?
            .ok_or(ChatError::RoomNotFound)?;
        let entry = Action::EnterRoom {
            private: info.private,
            member: false,
        };
        allow(actor, entry).map_err(|_| ChatError::NotMember)?;
        Ok(room)
    }

    /// The canonical name of `room`, if the connection is in it; why not otherwise. The one
    /// place that decides membership.
    pub async fn member_room(&self, rooms: &impl InRooms, room: &str) -> ChatResult<String> {
        let room = validate_room(room)?;
        if room == DEFAULT_ROOM || rooms.contains(&room) {
            return Ok(room);
        }
        Err(match self.store.room(&room).await? {
            Some(_) => ChatError::NotMember,
            None => ChatError::RoomNotFound,
        })
    }

    /// Creates a room (`private` or not) with the user in it; `remember` as for
    /// [`Chat::rename`].
    pub async fn create_room(
        &self,
        user: &Author,
        name: &str,
        private: bool,
        remember: impl AsyncFnOnce() -> ChatResult<()>,
    ) -> ChatResult<RoomInfo> {
        let name = validate_room(name)?;
        if is_direct_room(&name) {
            // Named by the server alone, for the people whose digest it is.
            return Err(ValidationError::InvalidRoom.into());
        }
        if self.store.room(&name).await?.is_some() {
            return Err(ChatError::RoomExists);
        }
        remember().await?;
        let room = self
            .store
            .create_room(&name, private, &user.id, now_millis(), self.limits)
            .await?;
        self.presence.entered(&user.id, &room.name);
        Ok(room)
    }

    /// Puts the user in an existing room; `remember` as for [`Chat::rename`].
    pub async fn join_room(
        &self,
        user: &Author,
        name: &str,
        remember: impl AsyncFnOnce() -> ChatResult<()>,
    ) -> ChatResult<RoomInfo> {
        let name = validate_room(name)?;
        let mut room = if name == DEFAULT_ROOM {
            self.default_room().await?
        } else {
            let room = self
                .store
                .room(&name)
                .await?
                .ok_or(ChatError::RoomNotFound)?;
            if room.private {
                let member = self.is_member(&user.id, &name).await?;
                // Entering needs membership whatever the role: no account to look up.
                let actor = Identity::of(user.clone());
                allow(
                    &actor,
                    Action::EnterRoom {
                        private: true,
                        member,
                    },
                )?;
            }
            remember().await?;
            self.store.join(&user.id, &name, self.limits).await?
        };
        self.presence.entered(&user.id, &room.name);
        self.with_people(std::slice::from_mut(&mut room)).await?;
        Ok(room)
    }

    /// Makes the stored user `invitee` (an id, or an account's username) a member of `room`,
    /// which `inviter` (through the connection's `rooms`) is in: the way into a private room.
    /// Returns the room and the invitee's id.
    pub async fn invite(
        &self,
        rooms: &impl InRooms,
        room: &str,
        invitee: &str,
    ) -> ChatResult<(RoomInfo, String)> {
        let room = self.member_room(rooms, room).await?;
        if is_direct_room(&room) {
            // Its people are fixed: a conversation with more people is another one.
            return Err(ChatError::Forbidden);
        }
        let invitee = match accounts::canonical_user_id(invitee) {
            Ok(id) => id,
            Err(_) => {
                accounts::account_named(&*self.store, invitee)
                    .await?
                    .user
                    .id
            }
        };
        if self.store.standing(&invitee).await? == crate::store::Standing::Banned {
            return Err(ChatError::Forbidden);
        }
        let invitee = self
            .store
            .user(&invitee)
            .await?
            .ok_or(ChatError::UserNotFound)?;
        let room = if room == DEFAULT_ROOM {
            self.default_room().await?
        } else {
            self.store.join(&invitee.id, &room, self.limits).await?
        };
        self.presence.entered(&invitee.id, &room.name);
        Ok((room, invitee.id))
    }

    /// Whether the user joined `room` (stored membership; everyone is in the default room).
    async fn is_member(&self, user_id: &str, room: &str) -> ChatResult<bool> {
        Ok(room == DEFAULT_ROOM
            || self
                .store
                .memberships(user_id)
                .await?
                .iter()
                .any(|joined| joined.name == room))
    }

    /// Takes the user out of the room, with every connection of theirs (on this node; the
    /// transport tells the others through the adapter).
    pub async fn leave_room(&self, user: &Author, name: &str) -> ChatResult<String> {
        let name = validate_room(name)?;
        if name == DEFAULT_ROOM {
            return Err(ChatError::CannotLeaveDefault);
        }
        self.store.leave(&user.id, &name).await?;
        self.presence.left(&user.id, &name);
        Ok(name)
    }

    /// Messages and changes after each cursor, for rooms the connection is in: each room at
    /// most once, in the order asked, oldest first per room. Per room, what is returned is
    /// everything from the cursor on up to some seq (messages and changes together, in seq
    /// order), so the client's new cursor leaves nothing out. `more` is true when the reply was
    /// cut short (a full page in some room, or [`SYNC_MAX_BYTES`] reached).
    pub async fn sync(&self, rooms: &impl InRooms, cursors: &[RoomCursor]) -> ChatResult<Synced> {
        let mut asked: Vec<(String, i64)> = Vec::new();
        for cursor in cursors {
            let room = validate_room(&cursor.room)?;
            if !asked.iter().any(|(name, _)| *name == room) {
                if asked.len() == SYNC_MAX_ROOMS {
                    return Err(ChatError::TooManySyncRooms);
                }
                asked.push((room, cursor.after_seq));
            }
        }
        for (room, _) in &asked {
            self.member_room(rooms, room).await?;
        }
        let mut synced = Synced {
            messages: Vec::new(),
            changes: Vec::new(),
            more: false,
        };
        let mut bytes = 0;
        for (room, after) in asked {
            let messages = self.store.sync(&room, after, SYNC_PAGE).await?;
            let changes = self.store.changes(&room, after, SYNC_PAGE).await?;
            let (page, cut) = first_by_seq(messages, changes, SYNC_PAGE as usize);
            synced.more |= cut;
            for entry in page {
                bytes += entry.wire_size();
                if bytes > SYNC_MAX_BYTES {
                    synced.more = true;
                    return Ok(synced);
                }
                match entry {
                    Entry::Message(message) => synced.messages.push(message),
                    Entry::Change(change) => synced.changes.push(change),
                }
            }
        }
        Ok(synced)
    }

    /// A page of a room's history for the token's user: up to `limit` messages (clamped to
    /// 1..=[`PAGE_LIMIT`]) before `before`, oldest first. A private room's only for its members.
    pub async fn history(
        &self,
        token: &str,
        room: &str,
        before: Option<i64>,
        limit: u32,
    ) -> ChatResult<Vec<ChatMessage>> {
        let reader = self.identity(token).await?;
        let room = validate_room(room)?;
        let info = self
            .store
            .room(&room)
            .await?
            .ok_or(ChatError::RoomNotFound)?;
        let member = !info.private || self.is_member(&reader.user.id, &room).await?;
        allow(
            &reader,
            Action::EnterRoom {
                private: info.private,
                member,
            },
        )?;
        Ok(self
            .store
            .history(&room, before, limit.clamp(1, PAGE_LIMIT))
            .await?)
    }

    /// The newest messages (at most [`MAX_SEARCH_RESULTS`]) in which every word of `query`
    /// begins a word, of `room` if given (a room `user` can read, as for edits: one the
    /// connection is in, or a public room), else of every room they can read. A private room's
    /// messages are found only by its members.
    pub async fn search(
        &self,
        user: &Author,
        rooms: &impl InRooms,
        query: &str,
        room: Option<&str>,
    ) -> ChatResult<Vec<ChatMessage>> {
        let words = search_words(query)?;
        // Reading needs membership whatever the role: no account to look up.
        let reader = Identity::of(user.clone());
        let readable = match room {
            Some(room) => vec![self.readable_room(&reader, rooms, room).await?],
            None => {
                let mut all = self.store.rooms().await?;
                all.retain(|room| {
                    let member = room.name == DEFAULT_ROOM || rooms.contains(&room.name);
                    let entry = Action::EnterRoom {
                        private: room.private,
                        member,
                    };
                    allow(&reader, entry).is_ok()
                });
                all.into_iter().map(|room| room.name).collect()
            }
        };
        let limit = u32::try_from(MAX_SEARCH_RESULTS).expect("a small number");
        Ok(self.store.search(&words, &readable, limit).await?)
    }

    /// Every room on the server, whoever asks (the transport's own use).
    pub async fn all_rooms(&self) -> ChatResult<Vec<RoomInfo>> {
        Ok(self.store.rooms().await?)
    }

    /// The room directory for the token's user: every public room, and the private ones they
    /// are in (an admin sees that every private room exists).
    pub async fn rooms(&self, token: &str) -> ChatResult<Vec<RoomInfo>> {
        let reader = self.identity(token).await?;
        let joined = self.store.memberships(&reader.user.id).await?;
        let mut rooms = self.store.rooms().await?;
        rooms.retain(|room| {
            let member = joined.iter().any(|joined| joined.name == room.name);
            let action = Action::SeeRoom {
                private: room.private,
                member,
                direct: room.is_direct(),
            };
            allow(&reader, action).is_ok()
        });
        Ok(rooms)
    }

    /// A connection of `user` is open and in `rooms`.
    pub fn connected(&self, connection: ConnectionId, user: &Author, rooms: &[RoomInfo]) {
        self.presence.connected(connection, user, rooms);
    }

    /// The connection closed. Safe against requests of its still in flight: presence changes
    /// they make afterwards no longer reach it.
    pub fn disconnected(&self, connection: ConnectionId) {
        self.presence.disconnected(connection);
    }

    /// How many rooms have someone online on this node.
    pub fn rooms_online(&self) -> usize {
        self.presence.rooms_online()
    }

    /// Everyone online in `room`, by name. In a cluster whose board cannot be reached, those on
    /// this node.
    pub async fn members(&self, room: &str) -> Vec<Author> {
        if let Some(board) = &self.board {
            match board.members(room).await {
                Ok(members) => return members,
                Err(error) => crate::throttled!(warn, %error, "shared presence unavailable"),
            }
        }
        self.presence.members(room)
    }

    /// Presence changes due an announcement at `now`, over all nodes. Changes the board cannot
    /// take now (Redis is away, and so is the fan-out) wait for the next announcement.
    pub async fn presence_changes(&self, now: Instant) -> Vec<PresenceChange> {
        let changes = self.presence.take_changes(now);
        let Some(board) = &self.board else {
            return changes.into_iter().map(Changes::announcement).collect();
        };
        let mut announced = Vec::with_capacity(changes.len());
        let mut changes = changes.into_iter();
        for local in changes.by_ref() {
            match board.apply(local.clone()).await {
                Ok(changes) => {
                    if !(changes.joined.is_empty()
                        && changes.renamed.is_empty()
                        && changes.left.is_empty())
                    {
                        announced.push(changes.announcement());
                    }
                }
                Err(error) => {
                    crate::throttled!(warn, %error, "shared presence unavailable");
                    self.presence.retry(local);
                    break;
                }
            }
        }
        changes.for_each(|local| self.presence.retry(local));
        announced
    }

    /// In a cluster, when this node stops: takes its users off the board, and returns who is
    /// offline now, to announce.
    pub async fn presence_leave(&self) -> Vec<PresenceChange> {
        let Some(board) = &self.board else {
            return Vec::new();
        };
        match board.leave().await {
            Ok(changes) => changes.into_iter().map(Changes::announcement).collect(),
            Err(error) => {
                tracing::warn!(%error, "could not take this node off shared presence");
                Vec::new()
            }
        }
    }

    /// In a cluster: keeps this node's presence on the board, and returns the departures of
    /// users of nodes that stopped, to announce.
    pub async fn presence_upkeep(&self) -> Vec<PresenceChange> {
        let Some(board) = &self.board else {
            return Vec::new();
        };
        match board.upkeep(self.presence.snapshot()).await {
            Ok(changes) => changes.into_iter().map(Changes::announcement).collect(),
            Err(error) => {
                crate::throttled!(warn, %error, "shared presence unavailable");
                Vec::new()
            }
        }
    }

    /// The user's rooms: the default room, which everyone is in, then the rooms they joined.
    async fn rooms_of(&self, user_id: &str) -> ChatResult<Vec<RoomInfo>> {
        let mut rooms = vec![self.default_room().await?];
        rooms.extend(
            self.store
                .memberships(user_id)
                .await?
                .into_iter()
                .filter(|room| room.name != DEFAULT_ROOM),
        );
        self.with_people(&mut rooms).await?;
        Ok(rooms)
    }

    async fn default_room(&self) -> ChatResult<RoomInfo> {
        self.store
            .room(DEFAULT_ROOM)
            .await?
            .ok_or(ChatError::RoomNotFound)
    }
}

impl From<StoreError> for ChatError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::RoomExists => Self::RoomExists,
            StoreError::RoomNotFound => Self::RoomNotFound,
            StoreError::MessageNotFound => Self::MessageNotFound,
            StoreError::MessageDeleted => Self::MessageDeleted,
            StoreError::TooManyReactions => Self::TooManyReactions,
            StoreError::TooManyRooms => Self::TooManyRooms,
            StoreError::TooManyMemberships => Self::TooManyMemberships,
            StoreError::UsernameTaken => Self::UsernameTaken,
            StoreError::AccountExists => Self::AccountExists,
            other => Self::Store(other),
        }
    }
}

/// What a room's sequence number stands for: a message, or a change to one.
// Entries live only while one sync page is put together; boxing messages would cost an
// allocation each for nothing.
#[allow(clippy::large_enum_variant)]
enum Entry {
    Message(ChatMessage),
    Change(MessageChanged),
}

impl Entry {
    fn seq(&self) -> i64 {
        match self {
            Self::Message(message) => message.seq,
            Self::Change(change) => change.seq,
        }
    }

    /// About how many bytes it takes in a reply.
    fn wire_size(&self) -> usize {
        let person = |user: &Author| {
            user.id.len() + user.name.len() + user.username.as_ref().map_or(0, String::len)
        };
        match self {
            Self::Message(message) => {
                let quote = message.reply_to.as_ref().map_or(0, |quote| {
                    person(&quote.author) + quote.text.len() + MESSAGE_OVERHEAD
                });
                let reactors = |reaction: &Reaction| -> usize {
                    let by = reaction.by.iter();
                    by.map(|reactor| person(&reactor.user) + REACTOR_OVERHEAD)
                        .sum()
                };
                let reactions: usize = message
                    .reactions
                    .iter()
                    .map(|reaction| reaction.emoji.len() + reactors(reaction) + REACTOR_OVERHEAD)
                    .sum();
                message.id.len()
                    + message.room.len()
                    + message.text.len()
                    + person(&message.author)
                    + message.client_id.as_ref().map_or(0, String::len)
                    + quote
                    + reactions
                    + message.attachment.as_ref().map_or(0, |file| {
                        file.id.len() + file.name.len() + file.content_type.len() + MESSAGE_OVERHEAD
                    })
                    + MESSAGE_OVERHEAD
            }
            Self::Change(change) => {
                let content = match &change.change {
                    Change::Edited { text, .. } => text.len(),
                    Change::Deleted { .. } => 0,
                    Change::Reacted { emoji, user } | Change::Unreacted { emoji, user } => {
                        emoji.len() + person(user)
                    }
                };
                change.room.len() + content + MESSAGE_OVERHEAD
            }
        }
    }
}

/// The first `limit` of a room's messages and changes together, in seq order, given the first
/// `limit` of each (in seq order): the first `limit` of the union are among them. Also whether
/// some may be left out (the union was longer, or either list full).
fn first_by_seq(
    messages: Vec<ChatMessage>,
    changes: Vec<MessageChanged>,
    limit: usize,
) -> (Vec<Entry>, bool) {
    let full = messages.len() >= limit || changes.len() >= limit;
    let mut entries: Vec<Entry> = messages
        .into_iter()
        .map(Entry::Message)
        .chain(changes.into_iter().map(Entry::Change))
        .collect();
    entries.sort_unstable_by_key(Entry::seq);
    let cut = entries.len() > limit;
    entries.truncate(limit);
    (entries, full || cut)
}

/// A guest, named after its id.
fn guest(id: String) -> Author {
    let name = format!("Guest {}", &id[id.len().saturating_sub(4)..]);
    Author::guest(id, name)
}

fn hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// 256 random bits, hex.
fn new_token() -> String {
    let mut bytes = [0_u8; 32];
    getrandom::fill(&mut bytes).expect("the OS random source works");
    to_hex(&bytes)
}

fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

fn from_hex(hex: &str) -> Option<Vec<u8>> {
    if !hex.len().is_multiple_of(2) {
        return None;
    }
    (0..hex.len())
        .step_by(2)
        .map(|at| u8::from_str_radix(hex.get(at..at + 2)?, 16).ok())
        .collect()
}

fn now_millis() -> i64 {
    let elapsed = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(seq: i64) -> ChatMessage {
        ChatMessage {
            id: format!("m{seq}"),
            room: "r".into(),
            seq,
            text: String::new(),
            author: guest("00000000-0000-0000-0000-000000000000".into()),
            sent_at: 0,
            client_id: None,
            edited_at: None,
            deleted: None,
            reply_to: None,
            reactions: Vec::new(),
            mentions: Vec::new(),
            attachment: None,
        }
    }

    fn change(seq: i64) -> MessageChanged {
        MessageChanged {
            room: "r".into(),
            seq,
            target: 1,
            change: Change::Deleted {
                by: DeletedBy::Author,
            },
        }
    }

    fn seqs(page: &[Entry]) -> Vec<i64> {
        page.iter().map(Entry::seq).collect()
    }

    #[test]
    fn a_sync_page_is_the_first_messages_and_changes_together_by_seq() {
        let (page, cut) = first_by_seq(
            vec![message(1), message(2), message(5)],
            vec![change(3), change(4), change(6)],
            4,
        );
        assert_eq!((seqs(&page), cut), (vec![1, 2, 3, 4], true));
        let (page, cut) = first_by_seq(vec![message(1), message(3)], vec![change(2)], 4);
        assert_eq!((seqs(&page), cut), (vec![1, 2, 3], false));
        // A full list may have more beyond it, even when the page is not full.
        let (page, cut) = first_by_seq(vec![message(2)], vec![change(1)], 1);
        assert_eq!((seqs(&page), cut), (vec![1], true));
        let (page, cut) = first_by_seq(Vec::new(), vec![change(7), change(8)], 2);
        assert_eq!((seqs(&page), cut), (vec![7, 8], true));
    }
}
