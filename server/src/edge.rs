//! What the server tells browsers, and which web pages it lets in.
//!
//! - **Origin.** A browser names the page behind a request in `Origin`. The Socket.io endpoint
//!   (both transports) and the server functions answer only the page's own origin (the one whose
//!   host and port are the request's `Host`) and the `--allowed-origin` values, so a page on
//!   another site cannot chat in the name of a visitor. Requests without `Origin` come from
//!   programs, not pages, and pass: bare Socket.io clients keep working.
//! - **Headers.** Every response carries a Content-Security-Policy that lets the page run only
//!   its own script, WebAssembly and stylesheet and talk only to this server, and forbids framing
//!   it (images may be `blob:` URLs: the UI shows the files it fetched so); with `nosniff`, no
//!   referrer, and no camera, microphone or location. File responses set a stricter policy of
//!   their own (`files.rs`), which this one does not replace.

use std::{net::IpAddr, sync::Arc};

use axum::{
    extract::{Request, State},
    http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header},
    middleware::Next,
    response::Response,
};
use shared::{ErrorCode, ErrorPayload};

use crate::assets::SOCKET_IO_CLIENT_PATH;

/// The origins besides the page's own that may use the chat, as `scheme://host[:port]` in
/// lower case.
#[derive(Debug, Clone, Default)]
pub struct AllowedOrigins(Vec<String>);

impl AllowedOrigins {
    pub fn new(origins: impl IntoIterator<Item = String>) -> Self {
        Self(origins.into_iter().collect())
    }

    /// Whether a request from `origin` with `Host: host` may go on. The scheme is not compared:
    /// behind a TLS-terminating proxy the page is `https` while this server speaks plain HTTP.
    fn allows(&self, origin: &str, host: Option<&str>) -> bool {
        let origin = origin.to_ascii_lowercase();
        let own = origin
            .split_once("://")
            .zip(host)
            .is_some_and(|((_, authority), host)| authority.eq_ignore_ascii_case(host));
        own || self.0.contains(&origin)
    }
}

/// Reads an `--allowed-origin` value: `http` or `https`, a host, an optional port, nothing else.
pub fn parse_origin(value: &str) -> Result<String, String> {
    let origin = value.trim().trim_end_matches('/').to_ascii_lowercase();
    let authority = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"))
        .ok_or("an origin starts with http:// or https://")?;
    let (host, port) = match authority.rsplit_once(':') {
        // An IPv6 address without a port has colons of its own, inside brackets.
        Some((host, port)) if !port.contains(']') => (host, Some(port)),
        _ => (authority, None),
    };
    if host.is_empty() || host.contains(['/', '?', '#', '@', ' ']) {
        return Err("an origin is scheme://host[:port], with no path, query or user".into());
    }
    if port.is_some_and(|port| port.parse::<u16>().is_err()) {
        return Err("the port must be a number up to 65535".into());
    }
    Ok(origin)
}

/// Middleware: refuses a request to Socket.io or a server function from a page of a foreign
/// origin with 403 and `{ code: "forbidden", message }`.
pub async fn check_origin(
    State(allowed): State<Arc<AllowedOrigins>>,
    request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path();
    // Engine.IO answers `/socket.io` without the slash too.
    let socket_io = path == "/socket.io" || path.starts_with("/socket.io/");
    let guarded = (socket_io && path != SOCKET_IO_CLIENT_PATH) || path.starts_with("/api");
    let headers = request.headers();
    if let (true, Some(origin)) = (guarded, headers.get(header::ORIGIN)) {
        let host = headers
            .get(header::HOST)
            .and_then(|host| host.to_str().ok());
        let origin = String::from_utf8_lossy(origin.as_bytes());
        if !allowed.allows(&origin, host) {
            crate::throttled!(warn, %origin, "refused a request from a page of another origin");
            crate::telemetry::refused(ErrorCode::Forbidden);
            let refusal = ErrorPayload::new(
                ErrorCode::Forbidden,
                format!(
                    "Pages from {origin} may not use this chat (the server allows its own \
                     origin and those given with --allowed-origin)."
                ),
            );
            let body = serde_json::to_value(refusal).expect("a refusal is JSON");
            return crate::health::reply(StatusCode::FORBIDDEN, body);
        }
    }
    next.run(request).await
}

/// The sources the page's inline `<script>` and `<style>` elements are allowed by (their
/// hashes, computed by `build.rs` from the embedded `index.html`).
const INLINE_HASHES: (&str, &str) = include!(concat!(env!("OUT_DIR"), "/inline_hashes.rs"));

/// Middleware: the security headers, on every response that does not set them itself.
pub async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    set_security_headers(response.headers_mut());
    response
}

fn set_security_headers(headers: &mut HeaderMap) {
    static POLICY: std::sync::LazyLock<HeaderValue> = std::sync::LazyLock::new(|| {
        let (scripts, styles) = INLINE_HASHES;
        // 'wasm-unsafe-eval' lets the page compile its own WebAssembly, nothing more; 'self' in
        // connect-src covers this server's WebSocket (CSP level 3).
        let policy = format!(
            "default-src 'none'; script-src 'self' 'wasm-unsafe-eval' {scripts}; \
             style-src 'self' {styles}; img-src 'self' data: blob:; connect-src 'self'; \
             manifest-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
        );
        HeaderValue::from_str(&policy).expect("hashes are base64")
    });
    let fixed: [(HeaderName, &'static str); 5] = [
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (
            HeaderName::from_static("permissions-policy"),
            "camera=(), microphone=(), geolocation=(), payment=(), usb=(), \
             accelerometer=(), gyroscope=(), magnetometer=()",
        ),
        (
            HeaderName::from_static("cross-origin-opener-policy"),
            "same-origin",
        ),
    ];
    headers
        .entry(header::CONTENT_SECURITY_POLICY)
        .or_insert_with(|| POLICY.clone());
    for (name, value) in fixed {
        headers
            .entry(name)
            .or_insert(HeaderValue::from_static(value));
    }
}

/// The client's address: the connection's peer, or, when the peer is one of `trusted` proxies,
/// the last address in `X-Forwarded-For` that is not itself a trusted proxy (a client can put
/// anything in front of the header, but each proxy appends the address it saw).
pub fn client_address(peer: IpAddr, headers: &HeaderMap, trusted: &[IpAddr]) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.contains(&ip.to_canonical());
    if !is_trusted(&peer) {
        return peer;
    }
    let forwarded: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .collect();
    forwarded
        .iter()
        .rev()
        .map(|entry| entry.parse::<IpAddr>().map(|ip| ip.to_canonical()))
        .take_while(Result::is_ok)
        .flatten()
        .find(|ip| !is_trusted(ip))
        .unwrap_or(peer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_own_origin_and_listed_ones_pass() {
        let allowed = AllowedOrigins::new(["https://app.example.com".to_owned()]);
        assert!(allowed.allows(
            "http://chat.example.com:4000",
            Some("chat.example.com:4000")
        ));
        assert!(allowed.allows("https://CHAT.example.com", Some("chat.example.com")));
        assert!(allowed.allows("https://app.example.com", Some("chat.example.com")));
        assert!(!allowed.allows("https://evil.example", Some("chat.example.com")));
        assert!(!allowed.allows(
            "http://chat.example.com:4001",
            Some("chat.example.com:4000")
        ));
        assert!(!allowed.allows("null", Some("chat.example.com")));
        assert!(!allowed.allows("https://chat.example.com", None));
    }

    #[test]
    fn origins_are_parsed_strictly() {
        assert_eq!(
            parse_origin("https://Chat.Example.com/").as_deref(),
            Ok("https://chat.example.com")
        );
        assert_eq!(
            parse_origin("http://127.0.0.1:8080").as_deref(),
            Ok("http://127.0.0.1:8080")
        );
        assert_eq!(parse_origin("http://[::1]").as_deref(), Ok("http://[::1]"));
        for bad in [
            "chat.example.com",
            "ftp://x",
            "https://",
            "https://x/path",
            "https://user@x",
            "https://x:99999",
        ] {
            assert!(parse_origin(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn forwarded_addresses_count_only_behind_a_trusted_proxy() {
        let proxy: IpAddr = "10.0.0.1".parse().expect("ip");
        let client: IpAddr = "203.0.113.7".parse().expect("ip");
        let mut headers = HeaderMap::new();
        headers.insert(
            "x-forwarded-for",
            HeaderValue::from_static("198.51.100.1, 203.0.113.7"),
        );
        assert_eq!(client_address(proxy, &headers, &[]), proxy);
        assert_eq!(client_address(proxy, &headers, &[proxy]), client);
        // A second trusted proxy in the chain is skipped; a forged entry before the client's
        // own is never reached.
        headers.insert(
            "x-forwarded-for",
            HeaderValue::from_static("1.2.3.4, 203.0.113.7, 10.0.0.2"),
        );
        let second: IpAddr = "10.0.0.2".parse().expect("ip");
        assert_eq!(client_address(proxy, &headers, &[proxy, second]), client);
        // Garbage: the proxy's own address, not a guess.
        headers.insert("x-forwarded-for", HeaderValue::from_static("not an ip"));
        assert_eq!(client_address(proxy, &headers, &[proxy]), proxy);
        assert_eq!(client_address(client, &HeaderMap::new(), &[proxy]), client);
    }
}
