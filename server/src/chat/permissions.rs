//! Who may do what: every rule of the chat's roles, in one place. The domain asks [`allow`]
//! before acting; a user without the right gets `forbidden` and the action is not taken.

use shared::Role;

use super::{ChatError, ChatResult};
use crate::store::Identity;

/// Something only some users may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// See and change the registration mode and the join link.
    ManageRegistration,
    /// See the list of users.
    ListUsers,
    /// Make another account an admin or a member.
    SetRole,
    /// Ban or unban a user.
    Ban,
    /// Know that a room exists (the directory): a private room is listed for its members, and
    /// for admins, who can see that it exists but not read it.
    SeeRoom { private: bool, member: bool },
    /// Read a room's history, or join it.
    EnterRoom { private: bool, member: bool },
}

/// Whether `actor` may do `action`.
pub fn allow(actor: &Identity, action: Action) -> ChatResult<()> {
    let admin = actor
        .account
        .as_ref()
        .is_some_and(|account| account.role == Role::Admin);
    let allowed = match action {
        Action::ManageRegistration | Action::ListUsers | Action::SetRole | Action::Ban => admin,
        Action::SeeRoom { private, member } => !private || member || admin,
        Action::EnterRoom { private, member } => !private || member,
    };
    if allowed {
        Ok(())
    } else {
        Err(ChatError::Forbidden)
    }
}
