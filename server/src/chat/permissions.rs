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
    /// Find a room in the directory: a private room is listed for its members, and for
    /// admins, who can see that it exists but not read it. A direct conversation is never
    /// listed: its people have it among their rooms, and nobody else learns that it exists.
    SeeRoom {
        private: bool,
        member: bool,
        direct: bool,
    },
    /// Read a room's history, or join it; so also change its messages (edit, delete, react)
    /// from outside it, which a public room allows.
    EnterRoom { private: bool, member: bool },
    /// Edit a message: its author only.
    EditMessage { own: bool },
    /// Delete a message: its author, or an admin (moderation).
    DeleteMessage { own: bool },
    /// Archive a room, or take it out of the archive: an admin, and never a direct
    /// conversation (which is its people's alone).
    ArchiveRoom { direct: bool },
    /// Upload a file to a room: its members only (everyone is in the default room), whatever
    /// the room's privacy or the role.
    UploadFile { member: bool },
    /// Fetch a file of a room: its members only, as for uploads (a public room's outsider joins
    /// first, an admin too), and a file no message carries yet only by its uploader.
    FetchFile {
        member: bool,
        attached: bool,
        own: bool,
    },
}

/// Whether `actor` may do `action`.
pub fn allow(actor: &Identity, action: Action) -> ChatResult<()> {
    let admin = actor
        .account
        .as_ref()
        .is_some_and(|account| account.role == Role::Admin);
    let allowed = match action {
        Action::ManageRegistration | Action::ListUsers | Action::SetRole | Action::Ban => admin,
        Action::ArchiveRoom { direct } => admin && !direct,
        Action::SeeRoom {
            private,
            member,
            direct,
        } => !direct && (!private || member || admin),
        Action::EnterRoom { private, member } => !private || member,
        Action::EditMessage { own } => own,
        Action::DeleteMessage { own } => own || admin,
        Action::UploadFile { member } => member,
        Action::FetchFile {
            member,
            attached,
            own,
        } => member && (attached || own),
    };
    if allowed {
        Ok(())
    } else {
        Err(ChatError::Forbidden)
    }
}

#[cfg(test)]
mod tests {
    use shared::{AccountInfo, Author};

    use super::*;

    fn someone(role: Option<Role>) -> Identity {
        let mut identity = Identity::of(Author {
            id: "u1".into(),
            name: "Ada".into(),
            username: None,
        });
        identity.account = role.map(|role| AccountInfo {
            username: "ada".into(),
            role,
        });
        identity
    }

    #[test]
    fn messages_are_edited_by_their_author_and_deleted_by_them_or_an_admin() {
        let guest = someone(None);
        let member = someone(Some(Role::Member));
        let admin = someone(Some(Role::Admin));
        for actor in [&guest, &member, &admin] {
            assert!(allow(actor, Action::EditMessage { own: true }).is_ok());
            assert!(allow(actor, Action::DeleteMessage { own: true }).is_ok());
            assert!(allow(actor, Action::EditMessage { own: false }).is_err());
        }
        assert!(allow(&guest, Action::DeleteMessage { own: false }).is_err());
        assert!(allow(&member, Action::DeleteMessage { own: false }).is_err());
        assert!(allow(&admin, Action::DeleteMessage { own: false }).is_ok());
    }

    #[test]
    fn files_are_for_the_members_of_their_room_and_unattached_ones_for_their_uploader() {
        let admin = someone(Some(Role::Admin));
        assert!(allow(&admin, Action::UploadFile { member: true }).is_ok());
        assert!(allow(&admin, Action::UploadFile { member: false }).is_err());
        for (member, attached, own, allowed) in [
            (true, true, false, true),
            (true, false, true, true),
            (true, false, false, false),
            (false, true, true, false),
            (false, true, false, false),
        ] {
            let fetch = Action::FetchFile {
                member,
                attached,
                own,
            };
            assert_eq!(allow(&admin, fetch).is_ok(), allowed, "{fetch:?}");
        }
    }

    #[test]
    fn only_an_admin_runs_the_chat() {
        let admin_only = [
            Action::ManageRegistration,
            Action::ListUsers,
            Action::SetRole,
            Action::Ban,
            Action::ArchiveRoom { direct: false },
        ];
        for action in admin_only {
            assert!(allow(&someone(None), action).is_err(), "{action:?}");
            assert!(
                allow(&someone(Some(Role::Member)), action).is_err(),
                "{action:?}"
            );
            assert!(
                allow(&someone(Some(Role::Admin)), action).is_ok(),
                "{action:?}"
            );
        }
    }

    #[test]
    fn a_private_room_is_entered_by_its_members_and_seen_by_them_and_admins() {
        // (private, member): may a member / an admin see it, enter it?
        let rules = [
            ((false, false), [true, true], [true, true]),
            ((false, true), [true, true], [true, true]),
            ((true, true), [true, true], [true, true]),
            ((true, false), [false, true], [false, false]),
        ];
        let (member, admin) = (someone(Some(Role::Member)), someone(Some(Role::Admin)));
        for ((private, member_of), see, enter) in rules {
            for (who, actor) in [&member, &admin].into_iter().enumerate() {
                let seen = allow(
                    actor,
                    Action::SeeRoom {
                        private,
                        member: member_of,
                        direct: false,
                    },
                );
                let entered = allow(
                    actor,
                    Action::EnterRoom {
                        private,
                        member: member_of,
                    },
                );
                assert_eq!(seen.is_ok(), see[who], "see {private} {member_of} as {who}");
                assert_eq!(
                    entered.is_ok(),
                    enter[who],
                    "enter {private} {member_of} as {who}"
                );
            }
        }
    }

    #[test]
    fn a_direct_conversation_is_its_peoples_alone() {
        let admin = someone(Some(Role::Admin));
        for member in [true, false] {
            let see = Action::SeeRoom {
                private: true,
                member,
                direct: true,
            };
            assert!(allow(&admin, see).is_err(), "listed, member {member}");
        }
        assert!(allow(&admin, Action::ArchiveRoom { direct: true }).is_err());
    }
}
