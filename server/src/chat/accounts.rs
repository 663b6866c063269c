//! Accounts and sessions: registering (the first account on a server is its admin), logging in
//! with a username and password on any device, the list of one's sessions, logging out of one or
//! all of them, changing the password; who may register; whether guests may connect.
//!
//! A session is a random token the client keeps (sent in the Socket.io handshake's `auth`, never
//! in a cookie); the store keeps only its SHA-256, which also names the session in lists
//! ([`session_id`]). Passwords are hashed with Argon2id at the `argon2` crate's default cost
//! (19 MiB, 2 passes, the OWASP recommendation), off the async threads.

use std::{
    net::IpAddr,
    num::NonZeroU32,
    sync::{Arc, LazyLock},
    time::Duration,
};

use argon2::{
    Argon2, PasswordHash, PasswordHasher, PasswordVerifier,
    password_hash::{SaltString, rand_core::OsRng},
};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use shared::{
    AccountInfo, Author, Credentials, Registration, RegistrationInfo, Role, ServerInfo,
    SessionInfo, UserEntry, username_key, validate_name, validate_password, validate_username,
};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::permissions::{Action, allow};
use super::{Chat, ChatError, ChatResult, hash, new_token, now_millis, to_hex};
use crate::store::{Identity, NewAccount, NewSession, RoleChange, Standing};

/// The settings keys.
const REGISTRATION: &str = "registration";
const INVITE_CODE: &str = "invite_code";

/// How accounts and sessions behave on this server.
#[derive(Debug, Clone)]
pub struct AccountPolicy {
    /// Set at start-up (`--registration`), replacing what an admin chose; `None` keeps the
    /// stored choice (`open` if none was made).
    pub registration: Option<Registration>,
    /// Whether connections without an account's session are let in (as guests).
    pub guests: bool,
    /// How long a session works without being used; `None`: for ever.
    pub session_lifetime: Option<Duration>,
    /// Accounts one address may register per hour (all at once, then spread out); `None`: no
    /// limit.
    pub registrations_per_hour: Option<NonZeroU32>,
}

impl Default for AccountPolicy {
    fn default() -> Self {
        Self {
            registration: None,
            guests: true,
            session_lifetime: Some(Duration::from_secs(30 * 24 * 60 * 60)),
            registrations_per_hour: NonZeroU32::new(10),
        }
    }
}

/// A session's use is written down at most this often (connecting is frequent; the sessions
/// list needs minutes, not milliseconds).
const TOUCH_EVERY_MS: i64 = 10 * 60 * 1000;

/// Login and registration attempts: per account 5 at once, then one every 12 s; per address 20
/// at once, then one every 3 s. Checked before any password is hashed. Accounts made per
/// address: as the policy says. (Per node: a cluster of k nodes allows k times as many.)
pub(super) struct Throttles {
    per_account: DefaultKeyedRateLimiter<String>,
    per_address: DefaultKeyedRateLimiter<IpAddr>,
    registrations: Option<DefaultKeyedRateLimiter<IpAddr>>,
    /// Password hashes being computed now, each 19 MiB and a core's worth of work: past
    /// [`HASHING_AT_ONCE`] a request is refused rather than queued.
    hashing: Arc<Semaphore>,
}

/// Password hashes computed at once, on this node.
const HASHING_AT_ONCE: usize = 4;

/// Keys of the limiters past which those not used lately are forgotten.
const LIMITER_KEYS: usize = 10_000;

/// The address a limit counts: an IPv6 client usually holds a whole /64, so it counts as one.
fn address_key(address: IpAddr) -> IpAddr {
    match address.to_canonical() {
        IpAddr::V6(v6) => IpAddr::V6((u128::from(v6) & !u128::from(u64::MAX)).into()),
        v4 => v4,
    }
}

impl Throttles {
    pub(super) fn new(policy: &AccountPolicy) -> Self {
        let quota = |every: u64, burst: u32| {
            Quota::with_period(Duration::from_secs(every))
                .expect("a positive period")
                .allow_burst(NonZeroU32::new(burst).expect("a positive burst"))
        };
        Self {
            per_account: RateLimiter::keyed(quota(12, 5)),
            per_address: RateLimiter::keyed(quota(3, 20)),
            registrations: policy
                .registrations_per_hour
                .map(|per_hour| RateLimiter::keyed(Quota::per_hour(per_hour))),
            hashing: Arc::new(Semaphore::new(HASHING_AT_ONCE)),
        }
    }

    /// One more account made from `address`.
    fn allow_registration(&self, address: Option<IpAddr>) -> ChatResult<()> {
        match (&self.registrations, address) {
            (Some(limiter), Some(address)) if limiter.check_key(&address_key(address)).is_err() => {
                Err(ChatError::RateLimited)
            }
            _ => Ok(()),
        }
    }

    /// An attempt from `address` (checked first: a throttled address spends no account's
    /// budget), on the account with `username_key`.
    fn allow(&self, username_key: Option<&str>, address: Option<IpAddr>) -> ChatResult<()> {
        self.forget_idle();
        if let Some(address) = address
            && self.per_address.check_key(&address_key(address)).is_err()
        {
            return Err(ChatError::RateLimited);
        }
        if let Some(key) = username_key
            && self.per_account.check_key(&key.to_owned()).is_err()
        {
            return Err(ChatError::RateLimited);
        }
        Ok(())
    }

    /// A place to compute one password hash, or `rate_limited` if all are taken.
    fn hashing(&self) -> ChatResult<OwnedSemaphorePermit> {
        self.hashing
            .clone()
            .try_acquire_owned()
            .map_err(|_| ChatError::RateLimited)
    }

    /// Keeps the limiters' maps bounded: past [`LIMITER_KEYS`] keys, those whose budget is
    /// full again are dropped.
    fn forget_idle(&self) {
        if self.per_account.len() > LIMITER_KEYS {
            self.per_account.retain_recent();
        }
        if self.per_address.len() > LIMITER_KEYS {
            self.per_address.retain_recent();
        }
        if let Some(registrations) = &self.registrations
            && registrations.len() > LIMITER_KEYS
        {
            registrations.retain_recent();
        }
    }
}

/// What registering takes.
#[derive(Debug, Clone, Default)]
pub struct Register {
    pub username: String,
    pub password: String,
    /// The display name; the username if `None`.
    pub name: Option<String>,
    /// The join link's code, when registration is by invitation.
    pub invite: Option<String>,
    /// A guest's session token: the guest becomes the account, keeping its id and messages.
    pub token: Option<String>,
}

/// Sets the password of the account `username` in `store` and ends all its sessions: the
/// operator's way back in when the only admin lost theirs (`chat reset-password`). Returns how
/// many sessions ended.
pub async fn reset_password(
    store: &dyn crate::store::Store,
    username: &str,
    password: &str,
) -> ChatResult<usize> {
    let password = validate_password(password)?.to_owned();
    let account = account_named(store, username).await?;
    store
        .set_password(&account.user.id, &hash_password(password).await?)
        .await?;
    Ok(store
        .end_sessions(&account.user.id, None, None)
        .await?
        .len())
}

/// The account with this username, however it is spelled (case, look-alikes, a leading `@`).
pub(super) async fn account_named(
    store: &dyn crate::store::Store,
    username: &str,
) -> ChatResult<crate::store::StoredAccount> {
    store
        .account_by_username(&username_key(username.trim().trim_start_matches('@')))
        .await?
        .ok_or(ChatError::UserNotFound)
}

/// A user id as stored (user ids are UUIDs, written hyphenated in lower case), so that another
/// spelling of one cannot slip past a check.
pub(super) fn canonical_user_id(user_id: &str) -> ChatResult<String> {
    let id = uuid::Uuid::parse_str(user_id).map_err(|_| ChatError::UserNotFound)?;
    Ok(id.hyphenated().to_string())
}

/// A session's public name: the hex of its token's hash.
pub fn session_id(token: &str) -> String {
    to_hex(&hash(token))
}

impl Chat {
    /// Applies `--registration` at start-up.
    pub(super) async fn apply_policy(&self) -> ChatResult<()> {
        if let Some(mode) = self.policy.registration {
            self.store.set_setting(REGISTRATION, mode.as_str()).await?;
        }
        let lifetime = self
            .policy
            .session_lifetime
            .map(|lifetime| i64::try_from(lifetime.as_millis()).unwrap_or(i64::MAX));
        Ok(self.store.expire_sessions(now_millis(), lifetime).await?)
    }

    pub async fn server_info(&self) -> ChatResult<ServerInfo> {
        Ok(ServerInfo {
            setup: !self.store.has_accounts().await?,
            registration: self.registration_mode().await?,
            guests: self.policy.guests,
        })
    }

    async fn registration_mode(&self) -> ChatResult<Registration> {
        let stored = self.store.setting(REGISTRATION).await?;
        Ok(stored
            .as_deref()
            .and_then(Registration::parse)
            .unwrap_or(Registration::Open))
    }

    /// The join link's code, made when first asked for.
    async fn invite_code(&self) -> ChatResult<String> {
        if let Some(code) = self.store.setting(INVITE_CODE).await? {
            return Ok(code);
        }
        let code = new_token();
        self.store.set_setting(INVITE_CODE, &code).await?;
        // Two nodes making one at once: the last write wins, and both read it back.
        Ok(self.store.setting(INVITE_CODE).await?.unwrap_or(code))
    }

    /// Creates an account and logs it in. The first account on the server is its admin and
    /// needs no invitation; after that the registration mode decides.
    pub async fn register(
        &self,
        request: Register,
        address: Option<IpAddr>,
    ) -> ChatResult<Credentials> {
        let username = validate_username(&request.username)?;
        let password = validate_password(&request.password)?;
        let name = validate_name(request.name.as_deref().unwrap_or(username))?;
        let key = username_key(username);
        self.throttles.allow(None, address)?;
        if self.store.has_accounts().await? {
            match self.registration_mode().await? {
                Registration::Open => {}
                // Compared as hashes: the time taken says nothing about how much of a guess
                // was right.
                Registration::Invite
                    if request.invite.as_deref().map(hash)
                        == Some(hash(&self.invite_code().await?)) => {}
                Registration::Invite => return Err(ChatError::RegistrationClosed(true)),
                Registration::Closed => return Err(ChatError::RegistrationClosed(false)),
            }
        }
        let user = match &request.token {
            Some(token) => {
                let identity = self.identity(token).await?;
                if identity.account.is_some() {
                    return Err(ChatError::AccountExists);
                }
                identity.user.id
            }
            None => uuid::Uuid::now_v7().to_string(),
        };
        let user = Author {
            id: user,
            name: name.to_owned(),
            username: Some(username.to_owned()),
        };
        self.throttles.allow_registration(address)?;
        let hashing = self.throttles.hashing()?;
        let password_hash = hash_password(password.to_owned()).await?;
        drop(hashing);
        let token = new_token();
        let token_hash = hash(&token);
        let address = address.map(|address| address.to_string());
        let role = self
            .store
            .create_account(NewAccount {
                user: &user,
                username,
                username_key: &key,
                password_hash: &password_hash,
                session: self.new_session(&token_hash, &user.id, address.as_deref()),
            })
            .await?;
        Ok(Credentials {
            token,
            user,
            account: AccountInfo {
                username: username.to_owned(),
                role,
            },
        })
    }

    /// A new session for the account with this username and password.
    pub async fn login(
        &self,
        username: &str,
        password: &str,
        address: Option<IpAddr>,
    ) -> ChatResult<Credentials> {
        // A name no account can have is answered at once: it says nothing about who exists.
        let username = validate_username(username).map_err(|_| ChatError::WrongCredentials)?;
        let key = username_key(username);
        self.throttles.allow(Some(&key), address)?;
        let hashing = self.throttles.hashing()?;
        let stored = self.store.account_by_username(&key).await?;
        let hash_to_check = stored.as_ref().map(|stored| stored.password_hash.clone());
        let matches = verify_password(password.to_owned(), hash_to_check).await?;
        drop(hashing);
        let Some(stored) = stored.filter(|_| matches) else {
            return Err(ChatError::WrongCredentials);
        };
        if stored.banned {
            return Err(ChatError::Banned);
        }
        let token = new_token();
        let address = address.map(|address| address.to_string());
        self.store
            .create_session(self.new_session(&hash(&token), &stored.user.id, address.as_deref()))
            .await?;
        Ok(Credentials {
            token,
            user: stored.user,
            account: stored.account,
        })
    }

    /// The sessions of the token's user, the asking one marked.
    pub async fn sessions(&self, token: &str) -> ChatResult<Vec<SessionInfo>> {
        let identity = self.identity(token).await?;
        let current = hash(token);
        let sessions = self.store.sessions(&identity.user.id, now_millis()).await?;
        Ok(sessions
            .into_iter()
            .map(|session| SessionInfo {
                id: to_hex(&session.token_hash),
                created_at: session.created_at,
                last_used_at: session.last_used_at,
                last_address: session.last_address,
                current: session.token_hash == current,
            })
            .collect())
    }

    /// Ends the session named `id` (one of the token's user's), or the token's own if `id` is
    /// `None`. Returns the ids of the sessions ended, whose connections must close.
    pub async fn end_session(&self, token: &str, id: Option<&str>) -> ChatResult<Vec<String>> {
        let identity = self.identity(token).await?;
        let target = match id {
            Some(id) => super::from_hex(id).ok_or(ChatError::SessionNotFound)?,
            None => hash(token),
        };
        let ended = self
            .store
            .end_sessions(&identity.user.id, Some(&target), None)
            .await?;
        if ended.is_empty() {
            return Err(ChatError::SessionNotFound);
        }
        Ok(ended.iter().map(|hash| to_hex(hash)).collect())
    }

    /// Ends every session of the token's user, this one included.
    pub async fn logout_everywhere(&self, token: &str) -> ChatResult<Vec<String>> {
        let identity = self.identity(token).await?;
        let ended = self
            .store
            .end_sessions(&identity.user.id, None, None)
            .await?;
        Ok(ended.iter().map(|hash| to_hex(hash)).collect())
    }

    /// Changes the password, given the current one, and ends every other session.
    pub async fn change_password(
        &self,
        token: &str,
        current: &str,
        new: &str,
    ) -> ChatResult<Vec<String>> {
        let identity = self.identity(token).await?;
        let new = validate_password(new)?.to_owned();
        let stored = self
            .store
            .account_of(&identity.user.id)
            .await?
            .ok_or(ChatError::NoAccount)?;
        self.throttles
            .allow(Some(&username_key(&stored.account.username)), None)?;
        let hashing = self.throttles.hashing()?;
        if !verify_password(current.to_owned(), Some(stored.password_hash)).await? {
            return Err(ChatError::WrongCredentials);
        }
        let password_hash = hash_password(new).await?;
        drop(hashing);
        self.store
            .set_password(&identity.user.id, &password_hash)
            .await?;
        let current = hash(token);
        let ended = self
            .store
            .end_sessions(&identity.user.id, None, Some(&current))
            .await?;
        Ok(ended.iter().map(|hash| to_hex(hash)).collect())
    }

    /// The registration mode and join link, for an admin; with `mode`, changes the mode first,
    /// and with `reset_invite`, makes a new join link (the old one stops working).
    pub async fn registration(
        &self,
        token: &str,
        mode: Option<Registration>,
        reset_invite: bool,
    ) -> ChatResult<RegistrationInfo> {
        let identity = self.identity(token).await?;
        allow(&identity, Action::ManageRegistration)?;
        if let Some(mode) = mode {
            self.store.set_setting(REGISTRATION, mode.as_str()).await?;
        }
        if reset_invite {
            self.store.set_setting(INVITE_CODE, &new_token()).await?;
        }
        Ok(RegistrationInfo {
            mode: self.registration_mode().await?,
            invite: self.invite_code().await?,
        })
    }

    /// Every account, for an admin.
    pub async fn users(&self, token: &str) -> ChatResult<Vec<UserEntry>> {
        allow(&self.identity(token).await?, Action::ListUsers)?;
        Ok(self.store.accounts().await?)
    }

    /// Makes the account of `user_id` an admin or a member; the last admin stays one.
    pub async fn set_role(&self, token: &str, user_id: &str, role: Role) -> ChatResult<()> {
        allow(&self.identity(token).await?, Action::SetRole)?;
        let user_id = canonical_user_id(user_id)?;
        // A banned user is made no admin.
        if role == Role::Admin && self.store.standing(&user_id).await? == Standing::Banned {
            return Err(ChatError::Forbidden);
        }
        match self.store.set_role(&user_id, role).await? {
            RoleChange::Done => Ok(()),
            RoleChange::NoAccount => Err(ChatError::UserNotFound),
            RoleChange::LastAdmin => Err(ChatError::LastAdmin),
        }
    }

    /// Bans `user_id` (an account or a guest), or lifts the ban. An admin cannot be banned
    /// (make them a member first), nor can one ban themselves. Returns the user's id as stored,
    /// whose connections are to close.
    pub async fn set_banned(&self, token: &str, user_id: &str, banned: bool) -> ChatResult<String> {
        let actor = self.identity(token).await?;
        allow(&actor, Action::Ban)?;
        let user_id = canonical_user_id(user_id)?;
        let target = self.store.account_of(&user_id).await?;
        let is_admin = target
            .as_ref()
            .is_some_and(|target| target.account.role == Role::Admin);
        if is_admin || actor.user.id == user_id {
            return Err(ChatError::Forbidden);
        }
        // A guest: its id is all there is (one that was never stored is stored now).
        let user = target.map_or_else(|| super::guest(user_id.clone()), |target| target.user);
        let banned_at = banned.then(now_millis);
        self.store.set_banned(&user, banned_at).await?;
        Ok(user_id)
    }

    /// Who a token is: a stored session that has not expired, or a guest's signed token. With
    /// guests off, only an account's session.
    pub(super) async fn identity(&self, token: &str) -> ChatResult<Identity> {
        let identity = match self.store.identity(&hash(token), now_millis()).await? {
            Some(stored) => stored,
            None => {
                let id = self.guest_id(token).ok_or(ChatError::UnknownSession)?;
                let banned = match self.store.standing(&id).await? {
                    // The guest became an account: only the account's sessions speak for it.
                    Standing::Account => return Err(ChatError::UnknownSession),
                    Standing::Banned => true,
                    Standing::Free => false,
                };
                Identity {
                    banned,
                    user: super::guest(id),
                    account: None,
                    last_used_at: None,
                }
            }
        };
        if identity.banned {
            return Err(ChatError::Banned);
        }
        if identity.account.is_none() && !self.policy.guests {
            return Err(ChatError::MembersOnly);
        }
        Ok(identity)
    }

    /// Records a stored session's use, at most every [`TOUCH_EVERY_MS`], which also moves its
    /// expiry.
    pub(super) async fn touch(
        &self,
        token: &str,
        identity: &Identity,
        address: Option<IpAddr>,
    ) -> ChatResult<()> {
        let now = now_millis();
        let Some(last_used_at) = identity.last_used_at else {
            return Ok(());
        };
        if now - last_used_at < TOUCH_EVERY_MS {
            return Ok(());
        }
        let token_hash = hash(token);
        let address = address.map(|address| address.to_string());
        let mut session = self.new_session(&token_hash, "", address.as_deref());
        session.now = now;
        Ok(self.store.touch_session(session).await?)
    }

    /// A session starting now for `user_id`, expiring after the policy's lifetime unused.
    pub(super) fn new_session<'a>(
        &self,
        token_hash: &'a [u8],
        user_id: &'a str,
        address: Option<&'a str>,
    ) -> NewSession<'a> {
        let now = now_millis();
        let lifetime = self
            .policy
            .session_lifetime
            .map(|lifetime| i64::try_from(lifetime.as_millis()).unwrap_or(i64::MAX));
        NewSession {
            token_hash,
            user_id,
            now,
            address,
            expires_at: lifetime.map(|lifetime| now.saturating_add(lifetime)),
        }
    }
}

async fn hash_password(password: String) -> ChatResult<String> {
    tokio::task::spawn_blocking(move || hash_now(&password))
        .await
        .map_err(|error| ChatError::Hashing(error.to_string()))?
}

fn hash_now(password: &str) -> ChatResult<String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|error| ChatError::Hashing(error.to_string()))
}

/// Checks `password` against `hash`, or (`None`, an unknown username) against the hash of a
/// password nobody has, which takes as long: timing does not tell which usernames exist.
async fn verify_password(password: String, hash: Option<String>) -> ChatResult<bool> {
    static NOBODY: LazyLock<String> = LazyLock::new(|| hash_now(&new_token()).unwrap_or_default());
    tokio::task::spawn_blocking(move || {
        let hash = hash.as_deref().unwrap_or(&NOBODY);
        PasswordHash::new(hash).is_ok_and(|hash| {
            Argon2::default()
                .verify_password(password.as_bytes(), &hash)
                .is_ok()
        })
    })
    .await
    .map_err(|error| ChatError::Hashing(error.to_string()))
}
