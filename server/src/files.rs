//! Files over HTTP: `POST /api/files` uploads one (the raw body), `GET /files/{id}` and
//! `GET /files/{id}/thumbnail` fetch one, each with the session's token as
//! `Authorization: Bearer <token>` (no cookies: the UI fetches them with `fetch()` and shows
//! them through `blob:` URLs). Uploads go over HTTP, not Socket.io, whose binary attachments
//! the server refuses (see `socket_io` in `lib.rs`).
//!
//! What a file response may do in a browser is as little as can be: only images the server
//! decoded itself are served as `image/*` and `inline`; everything else (HTML and SVG
//! included) is `application/octet-stream` and `attachment`; every file response carries
//! `nosniff` and a sandboxing Content-Security-Policy, so even a file opened in a tab of the
//! chat's origin runs no script there.
//!
//! The body's limit is enforced while it is read (a `Content-Length` over it is refused before
//! reading), and the bytes of file bodies held in memory by this node, uploads and downloads
//! together, are bounded ([`IN_FLIGHT_MIB`]; past it, `overloaded`).

use std::{
    convert::Infallible,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
};

use axum::{
    Router,
    body::{Body, Bytes},
    extract::{Path, Query, State, rejection::QueryRejection},
    http::{HeaderMap, HeaderValue, Request, StatusCode, header},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use http_body::{Frame, SizeHint};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use serde::Deserialize;
use shared::{ErrorCode, ErrorPayload};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::{
    chat::{Chat, ChatError, FileContent, Requester},
    error::refusal,
    transport::{SharedBudget, rate_limited},
};

/// Where uploads go.
pub const UPLOAD_PATH: &str = "/api/files";

/// MiB of file bodies this node holds in memory at once, uploads being read and downloads
/// being sent: 256 MiB, 25 files of the default largest size.
const IN_FLIGHT_MIB: u32 = 256;

/// How long a browser may reuse a file it fetched without asking again. A file never changes
/// (a new one has a new id); its removal, or the reader's leaving the room, shows within it.
const CACHE_CONTROL: &str = "private, max-age=3600";

/// The policy of every file response: no script, no plugin, no fetch, no form, no frame of
/// the chat's own; a document opened from it is in an opaque origin of its own.
const FILE_POLICY: &str = "sandbox; default-src 'none'";

/// What the file routes share.
#[derive(Clone)]
pub struct Files {
    pub chat: Chat,
    pub budget: Arc<SharedBudget>,
    /// The largest upload taken, in bytes.
    pub max_bytes: u64,
    /// MiB of file bodies in memory, [`IN_FLIGHT_MIB`] in all.
    pub in_flight: Arc<Semaphore>,
}

impl Files {
    pub fn new(chat: Chat, budget: Arc<SharedBudget>, max_bytes: u64) -> Self {
        Self {
            chat,
            budget,
            max_bytes,
            in_flight: Arc::new(Semaphore::new(IN_FLIGHT_MIB as usize)),
        }
    }
}

/// The routes, with their state.
pub fn routes(files: Files) -> Router {
    Router::new()
        .route(UPLOAD_PATH, post(upload))
        .route("/files/{id}", get(file))
        .route("/files/{id}/thumbnail", get(thumbnail))
        .with_state(files)
}

/// An upload's query: `?room=<room>&name=<file name>`.
#[derive(Debug, Deserialize)]
struct UploadQuery {
    room: String,
    #[serde(default)]
    name: Option<String>,
}

/// `POST /api/files?room=R&name=N`: the body is the file. Answers the stored [`shared::FileInfo`].
async fn upload(
    State(files): State<Files>,
    query: Result<Query<UploadQuery>, QueryRejection>,
    request: Request<Body>,
) -> Response {
    let Ok(Query(query)) = query else {
        return refused(ErrorPayload::new(
            ErrorCode::InvalidPayload,
            "An upload names its room: POST /api/files?room=<room>&name=<file name>.",
        ));
    };
    let who = match requester(&files.chat, request.headers()).await {
        Ok(who) => who,
        Err(response) => return response,
    };
    let upload = match files.chat.upload_to(&who, &query.room).await {
        Ok(upload) => upload,
        Err(error) => return refuse(&error),
    };
    let too_large = || refuse(&ChatError::FileTooLarge(files.max_bytes));
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|length| length.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|length| length > files.max_bytes) {
        return too_large();
    }
    if !files.budget.upload(who.user_id()) {
        return refused(rate_limited());
    }
    let Some(permit) = hold(&files.in_flight, declared.unwrap_or(files.max_bytes)) else {
        return refuse(&ChatError::Overloaded);
    };
    let limit = usize::try_from(files.max_bytes).unwrap_or(usize::MAX);
    let data = match Limited::new(request.into_body(), limit).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(error) if error.is::<LengthLimitError>() => return too_large(),
        Err(error) => {
            crate::throttled!(debug, %error, "an upload broke off");
            return refused(ErrorPayload::new(
                ErrorCode::InvalidPayload,
                "The upload broke off before its end.",
            ));
        }
    };
    let name = query.name.as_deref().unwrap_or_default();
    let stored = files.chat.upload(upload, name, Vec::from(data)).await;
    drop(permit);
    match stored {
        Ok(info) => json(StatusCode::OK, &info),
        Err(error) => refuse(&error),
    }
}

/// `GET /files/{id}`: the file.
async fn file(State(files): State<Files>, Path(id): Path<String>, headers: HeaderMap) -> Response {
    serve(&files, &id, false, &headers).await
}

/// `GET /files/{id}/thumbnail`: an image's thumbnail (PNG or JPEG, at most 360 pixels a side).
async fn thumbnail(
    State(files): State<Files>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    serve(&files, &id, true, &headers).await
}

async fn serve(files: &Files, id: &str, thumbnail: bool, headers: &HeaderMap) -> Response {
    let who = match requester(&files.chat, headers).await {
        Ok(who) => who,
        Err(response) => return response,
    };
    if !files.budget.file_read(who.user_id()) {
        return refused(rate_limited());
    }
    let content = match files.chat.file(&who, id, thumbnail).await {
        Ok(content) => content,
        Err(error) => return refuse(&error),
    };
    let etag = format!(
        "\"{}{}\"",
        content.info.id,
        if thumbnail { "-t" } else { "" }
    );
    let values = file_headers(&content, thumbnail, &etag);
    let mut response = if headers
        .get(header::IF_NONE_MATCH)
        .is_some_and(|tags| tags.as_bytes() == etag.as_bytes())
    {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let Some(permit) = hold(&files.in_flight, content.bytes.len() as u64) else {
            return refuse(&ChatError::Overloaded);
        };
        Response::new(Body::new(Held::new(content.bytes, permit)))
    };
    response.headers_mut().extend(values);
    response
}

/// The headers of a file response (200 or 304).
fn file_headers(content: &FileContent, thumbnail: bool, etag: &str) -> HeaderMap {
    let inline = content.content_type.starts_with("image/");
    let name = if thumbnail {
        format!("thumbnail-{}", content.info.name)
    } else {
        content.info.name.clone()
    };
    let disposition = content_disposition(if inline { "inline" } else { "attachment" }, &name);
    let mut headers = HeaderMap::new();
    let fixed = [
        (header::CONTENT_TYPE, content.content_type),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::CONTENT_SECURITY_POLICY, FILE_POLICY),
        (header::CACHE_CONTROL, CACHE_CONTROL),
        (header::VARY, "Authorization"),
    ];
    for (name, value) in fixed {
        headers.insert(name, HeaderValue::from_static(value));
    }
    if let Ok(value) = HeaderValue::from_str(&disposition) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    if let Ok(value) = HeaderValue::from_str(etag) {
        headers.insert(header::ETAG, value);
    }
    headers
}

/// `Content-Disposition` for a file called `name`: an ASCII `filename` for old clients (other
/// characters as `_`) and the name itself, percent-encoded, as `filename*` (RFC 6266, 8187).
fn content_disposition(kind: &str, name: &str) -> String {
    let ascii: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let mut encoded = String::new();
    for byte in name.bytes() {
        let attr_char = byte.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&byte);
        if attr_char {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    format!("{kind}; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
}

/// Who the request's `Authorization: Bearer <token>` names; a refusal if no one.
async fn requester(chat: &Chat, headers: &HeaderMap) -> Result<Requester, Response> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|token| !token.is_empty());
    let Some(token) = token else {
        return Err(refused(ErrorPayload::new(
            ErrorCode::Unauthorized,
            "Send your session token: Authorization: Bearer <token>.",
        )));
    };
    chat.requester(token).await.map_err(|error| refuse(&error))
}

/// A share of [`IN_FLIGHT_MIB`] for `bytes` (at least 1 MiB's), if there is room.
fn hold(in_flight: &Arc<Semaphore>, bytes: u64) -> Option<OwnedSemaphorePermit> {
    let mib = u32::try_from(bytes.div_ceil(1024 * 1024)).unwrap_or(u32::MAX);
    in_flight
        .clone()
        .try_acquire_many_owned(mib.clamp(1, IN_FLIGHT_MIB))
        .ok()
}

/// A file's bytes as a response body, in 64 KiB frames (hyper asks for the next only once the
/// last is on its way to the client), holding its share of memory until it is all sent or the
/// client is gone.
struct Held {
    bytes: Bytes,
    _permit: OwnedSemaphorePermit,
}

impl Held {
    /// Frames of the body.
    const FRAME: usize = 64 * 1024;

    fn new(bytes: Vec<u8>, permit: OwnedSemaphorePermit) -> Self {
        Self {
            bytes: Bytes::from(bytes),
            _permit: permit,
        }
    }
}

impl http_body::Body for Held {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        let this = self.get_mut();
        if this.bytes.is_empty() {
            return Poll::Ready(None);
        }
        let frame = this.bytes.split_to(this.bytes.len().min(Self::FRAME));
        Poll::Ready(Some(Ok(Frame::data(frame))))
    }

    fn is_end_stream(&self) -> bool {
        self.bytes.is_empty()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.bytes.len() as u64)
    }
}

/// The client's view of `error`, as a response.
fn refuse(error: &ChatError) -> Response {
    refused(refusal(error))
}

/// `payload` as JSON, with the status its code means.
fn refused(payload: ErrorPayload) -> Response {
    crate::telemetry::refused(payload.code);
    json(crate::backend::status(payload.code), &payload)
}

/// `value` as a JSON response with `status`.
fn json(status: StatusCode, value: &impl serde::Serialize) -> Response {
    let body = serde_json::to_string(value).expect("wire types serialize");
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dispositions_carry_any_name_safely() {
        assert_eq!(
            content_disposition("inline", "cat.png"),
            "inline; filename=\"cat.png\"; filename*=UTF-8''cat.png"
        );
        assert_eq!(
            content_disposition("attachment", "été \"x\";.txt"),
            "attachment; filename=\"_t_ _x_;.txt\"; \
             filename*=UTF-8''%C3%A9t%C3%A9%20%22x%22%3B.txt"
        );
    }
}
