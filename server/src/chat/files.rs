//! Files: uploaded into a room by one of its members, attached by their uploader to one message
//! of theirs in that room, fetched by the room's members, gone with their message.
//!
//! The bytes live in the store (SQLite or PostgreSQL), so every node serves every file and a
//! backup holds them. A file no message carries within [`UNATTACHED_LIFETIME_MS`] is removed;
//! until then only its uploader can fetch it. Whether a file is an image, and its thumbnail,
//! is decided here by decoding it ([`super::images`]); what the uploader claimed is never asked.
//! Requests come over HTTP with the session's token, not through a socket, so membership is
//! the stored one (everyone is in the default room), decided by [`permissions`].

use std::sync::LazyLock;

use shared::{Author, FileInfo, ImageSize, clean_file_name, validate_room};
use tokio::sync::Semaphore;

use super::{
    Chat, ChatError, ChatResult, images, now_millis,
    permissions::{self, Action},
};
use crate::store::{Identity, NewFile};

/// How long an uploaded file waits for its message: a day, for a person who uploads, then
/// writes a caption slowly, loses the connection and comes back.
const UNATTACHED_LIFETIME_MS: i64 = 24 * 60 * 60 * 1000;

/// What anything that is no image decoded by the server is served as.
pub const OCTET_STREAM: &str = "application/octet-stream";

/// Images decoded at once on this node: one. Decoding is CPU-bound and may take up to
/// 256 MiB (see [`images`]); uploads of images beyond it wait their turn.
static DECODING: LazyLock<Semaphore> = LazyLock::new(|| Semaphore::new(1));

/// Someone an HTTP request's session token names.
pub struct Requester(Identity);

impl Requester {
    /// Their user id (for their budgets).
    pub fn user_id(&self) -> &str {
        &self.0.user.id
    }
}

/// Where an upload goes, once its uploader was found to be a member of the room: made only by
/// [`Chat::upload_to`], so that the body is read only for an upload that will be taken.
pub struct Upload {
    uploader: Author,
    room: String,
}

/// A file's bytes (or its thumbnail's) and what they are.
pub struct FileContent {
    pub info: FileInfo,
    /// The content type of `bytes`: the file's, or its thumbnail's.
    pub content_type: &'static str,
    pub bytes: Vec<u8>,
}

impl Chat {
    /// Who the session `token` is (a guest's too), for a request that is not on a socket.
    pub async fn requester(&self, token: &str) -> ChatResult<Requester> {
        Ok(Requester(self.identity(token).await?))
    }

    /// An upload by `who` to `room`, if they are a member of it and it takes messages.
    pub async fn upload_to(&self, who: &Requester, room: &str) -> ChatResult<Upload> {
        let room = validate_room(room)?;
        let info = self
            .store
            .room(&room)
            .await?
            .ok_or(ChatError::RoomNotFound)?;
        let member = self.is_member(who.user_id(), &room).await?;
        permissions::allow(&who.0, Action::UploadFile { member })
            .map_err(|_| ChatError::NotMember)?;
        if info.archived {
            return Err(ChatError::RoomArchived);
        }
        Ok(Upload {
            uploader: who.0.user.clone(),
            room,
        })
    }

    /// Stores `data`, uploaded as `name`: an image if it decodes as one (with its thumbnail),
    /// else a plain file. Files left unattached for a day are removed on the way.
    pub async fn upload(&self, upload: Upload, name: &str, data: Vec<u8>) -> ChatResult<FileInfo> {
        let (image, data) = {
            let _turn = DECODING
                .acquire()
                .await
                .map_err(|_| ChatError::Overloaded)?;
            // A decoder that panicked is an internal failure, as a password hash's would be.
            tokio::task::spawn_blocking(move || (images::inspect(&data), data))
                .await
                .map_err(|error| ChatError::Hashing(error.to_string()))?
        };
        let info = FileInfo {
            id: uuid::Uuid::now_v7().to_string(),
            name: clean_file_name(name),
            content_type: image
                .as_ref()
                .map_or(OCTET_STREAM, |image| image.content_type)
                .to_owned(),
            size: u64::try_from(data.len()).unwrap_or(u64::MAX),
            image: image.as_ref().map(|image| ImageSize {
                width: image.width,
                height: image.height,
            }),
        };
        let now = now_millis();
        match self.store.purge_files(now - UNATTACHED_LIFETIME_MS).await {
            Ok(0) => {}
            Ok(purged) => tracing::info!(purged, "removed files never attached to a message"),
            Err(error) => crate::throttled!(warn, %error, "could not remove unattached files"),
        }
        self.store
            .add_file(NewFile {
                info: info.clone(),
                room: upload.room,
                uploader_id: upload.uploader.id,
                created_at: now,
                data,
                thumbnail: image.map(|image| image.thumbnail),
            })
            .await?;
        Ok(info)
    }

    /// File `id` (or, with `thumbnail`, its thumbnail), for `who`: a member of its room, and
    /// its uploader while no message carries it. Anything else is [`ChatError::FileNotFound`],
    /// as for an id that names nothing.
    pub async fn file(
        &self,
        who: &Requester,
        id: &str,
        thumbnail: bool,
    ) -> ChatResult<FileContent> {
        let file = self.store.file(id).await?.ok_or(ChatError::FileNotFound)?;
        let fetch = Action::FetchFile {
            member: self.is_member(who.user_id(), &file.room).await?,
            attached: file.attached_to.is_some(),
            own: file.uploader_id == who.user_id(),
        };
        permissions::allow(&who.0, fetch).map_err(|_| ChatError::FileNotFound)?;
        if thumbnail && file.info.image.is_none() {
            return Err(ChatError::FileNotFound);
        }
        // Deleted with its message since it was read: not found either.
        let bytes = self
            .store
            .file_content(id, thumbnail)
            .await?
            .ok_or(ChatError::FileNotFound)?;
        let content_type = if thumbnail {
            images::thumbnail_type(&bytes)
        } else {
            served_type(&file.info.content_type)
        };
        Ok(FileContent {
            info: file.info,
            content_type,
            bytes,
        })
    }

    /// File `id` as a message of `author` in `room` may carry it: theirs, uploaded to that
    /// room, and carried by no message yet, unless by the one this is a retry of (same author,
    /// same `client_id`: the store returns that message). Anything else is
    /// [`ChatError::FileNotFound`], whoever's file it is.
    pub(super) async fn attachable(
        &self,
        author: &Author,
        room: &str,
        id: &str,
        client_id: Option<&str>,
    ) -> ChatResult<FileInfo> {
        let file = self.store.file(id).await?.ok_or(ChatError::FileNotFound)?;
        let free = match &file.attached_to {
            None => true,
            Some((carrier, carried_id)) => {
                *carrier == author.id && client_id.is_some() && carried_id.as_deref() == client_id
            }
        };
        if file.uploader_id != author.id || file.room != room || !free {
            return Err(ChatError::FileNotFound);
        }
        Ok(file.info)
    }
}

/// The content type a file is served as: one of the four image types the server decodes, as
/// stored, or [`OCTET_STREAM`] (whatever else a row might say).
fn served_type(stored: &str) -> &'static str {
    ["image/png", "image/jpeg", "image/gif", "image/webp"]
        .into_iter()
        .find(|image| *image == stored)
        .unwrap_or(OCTET_STREAM)
}

/// `bytes` for people: "10 MiB", "512 KiB", "100 bytes".
pub fn megabytes(bytes: u64) -> String {
    const KIB: u64 = 1024;
    const MIB: u64 = 1024 * 1024;
    if bytes >= MIB && bytes.is_multiple_of(MIB) {
        format!("{} MiB", bytes / MIB)
    } else if bytes >= MIB {
        format!("{:.1} MiB", bytes as f64 / MIB as f64)
    } else if bytes >= KIB && bytes.is_multiple_of(KIB) {
        format!("{} KiB", bytes / KIB)
    } else if bytes >= KIB {
        format!("{:.1} KiB", bytes as f64 / KIB as f64)
    } else {
        format!("{bytes} bytes")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_four_image_types_are_served_as_themselves() {
        assert_eq!(served_type("image/png"), "image/png");
        assert_eq!(served_type("image/webp"), "image/webp");
        assert_eq!(served_type("image/svg+xml"), OCTET_STREAM);
        assert_eq!(served_type("text/html"), OCTET_STREAM);
    }

    #[test]
    fn sizes_read_well() {
        assert_eq!(megabytes(10 * 1024 * 1024), "10 MiB");
        assert_eq!(megabytes(1536 * 1024), "1.5 MiB");
        assert_eq!(megabytes(512 * 1024), "512 KiB");
        assert_eq!(megabytes(10_000), "9.8 KiB");
        assert_eq!(megabytes(100), "100 bytes");
    }
}
