//! The web UI and the Socket.io browser client, embedded at build time (see `build.rs`).
//!
//! Bodies are precompressed with brotli and gzip; the handler picks what the client accepts.
//! Trunk's content-hashed files are cached forever, everything else is revalidated by ETag.

use axum::{
    body::Body,
    http::{HeaderMap, HeaderValue, StatusCode, Uri, header},
    response::{IntoResponse, Response},
};

/// Where the official browser client is served, as in the seed.
pub const SOCKET_IO_CLIENT_PATH: &str = "/socket.io/socket.io.js";

/// One embedded file.
struct Asset {
    path: &'static str,
    content_type: &'static str,
    etag: &'static str,
    /// The name carries a content hash, so the response may be cached for good.
    immutable: bool,
    raw: &'static [u8],
    gzip: Option<&'static [u8]>,
    brotli: Option<&'static [u8]>,
}

static ASSETS: &[Asset] = include!(concat!(env!("OUT_DIR"), "/assets.rs"));

const INDEX: &str = "/index.html";

/// Where the UI's room links start (`/r/<room>`): never a file, though a direct
/// conversation's name has a dot.
const ROOM_LINKS: &str = "/r/";

/// Serves an embedded file; room links and paths without a file extension get the UI's
/// `index.html`, so that links into the single-page app work.
pub async fn serve(uri: Uri, headers: HeaderMap) -> Response {
    let path = match uri.path() {
        "/" => INDEX,
        path if !is_file(path) => INDEX,
        path => path,
    };
    match ASSETS.iter().find(|asset| asset.path == path) {
        Some(asset) => asset.respond(&headers),
        None if path == INDEX => (
            StatusCode::SERVICE_UNAVAILABLE,
            "This binary was built without the web UI. Build it with `cargo xtask build`.\n",
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "not found\n").into_response(),
    }
}

/// Whether `path` names a file: its last segment has an extension, and it is no room link.
fn is_file(path: &str) -> bool {
    !path.starts_with(ROOM_LINKS)
        && path
            .rsplit('/')
            .next()
            .is_some_and(|name| name.contains('.'))
}

impl Asset {
    fn respond(&self, request: &HeaderMap) -> Response {
        let cache_control = if self.immutable {
            "public, max-age=31536000, immutable"
        } else {
            "no-cache"
        };
        let mut response = if etag_matches(request, self.etag) {
            StatusCode::NOT_MODIFIED.into_response()
        } else {
            let (encoding, body) = self.pick_encoding(request);
            let mut response = Response::new(Body::from(body));
            if let Some(encoding) = encoding {
                response
                    .headers_mut()
                    .insert(header::CONTENT_ENCODING, HeaderValue::from_static(encoding));
            }
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static(self.content_type),
            );
            response
        };
        let headers = response.headers_mut();
        headers.insert(header::ETAG, HeaderValue::from_static(self.etag));
        headers.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static(cache_control),
        );
        headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
        headers.insert(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        );
        response
    }

    fn pick_encoding(&self, request: &HeaderMap) -> (Option<&'static str>, &'static [u8]) {
        let accepts = |coding| accepts_encoding(request, coding);
        match (self.brotli, self.gzip) {
            (Some(body), _) if accepts("br") => (Some("br"), body),
            (_, Some(body)) if accepts("gzip") => (Some("gzip"), body),
            _ => (None, self.raw),
        }
    }
}

/// Whether `Accept-Encoding` lists `coding` without `q=0`.
fn accepts_encoding(request: &HeaderMap, coding: &str) -> bool {
    request
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|item| {
            let mut parts = item.split(';').map(str::trim);
            parts
                .next()
                .is_some_and(|name| name.eq_ignore_ascii_case(coding))
                && !parts.any(|param| matches!(param, "q=0" | "q=0.0" | "q=0.00" | "q=0.000"))
        })
}

fn etag_matches(request: &HeaderMap, etag: &str) -> bool {
    request
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|tag| {
            let tag = tag.trim();
            tag == "*" || tag.trim_start_matches("W/") == etag
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(name: header::HeaderName, value: &'static str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(name, HeaderValue::from_static(value));
        headers
    }

    #[test]
    fn parses_accept_encoding() {
        let request = headers(header::ACCEPT_ENCODING, "gzip, deflate, br;q=0");
        assert!(accepts_encoding(&request, "gzip"));
        assert!(!accepts_encoding(&request, "br"));
        assert!(!accepts_encoding(&HeaderMap::new(), "gzip"));
    }

    #[test]
    fn matches_strong_and_weak_etags() {
        assert!(etag_matches(
            &headers(header::IF_NONE_MATCH, "\"a\", W/\"b\""),
            "\"b\""
        ));
        assert!(!etag_matches(
            &headers(header::IF_NONE_MATCH, "\"a\""),
            "\"b\""
        ));
    }

    #[test]
    fn routes_without_extension_and_room_links_are_the_app() {
        assert!(!is_file("/rooms/general"));
        assert!(!is_file("/r/dm.0123456789abcdef0123456789ab"));
        assert!(is_file("/frontend-0123.wasm"));
    }
}
