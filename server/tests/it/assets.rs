//! The embedded files: content types, compression and caching.
//!
//! These need the UI and the npm packages to have been built before the server was compiled,
//! which `cargo xtask test` does.

use reqwest::{Client, StatusCode, header};

use crate::helpers::TestApp;

async fn get(app: &TestApp, path: &str, accept_encoding: &str) -> reqwest::Response {
    Client::new()
        .get(format!("{}{path}", app.url))
        .header(header::ACCEPT_ENCODING, accept_encoding)
        .send()
        .await
        .expect("request")
}

fn header(response: &reqwest::Response, name: header::HeaderName) -> &str {
    response
        .headers()
        .get(&name)
        .unwrap_or_else(|| panic!("missing {name}"))
        .to_str()
        .expect("ASCII header")
}

#[tokio::test]
async fn the_socket_io_client_is_served_compressed_beside_the_socket_io_endpoint() {
    let app = TestApp::spawn().await;

    let brotli = get(&app, "/socket.io/socket.io.js", "gzip, br").await;
    assert_eq!(brotli.status(), StatusCode::OK);
    assert_eq!(
        header(&brotli, header::CONTENT_TYPE),
        "text/javascript; charset=utf-8"
    );
    assert_eq!(header(&brotli, header::CONTENT_ENCODING), "br");
    let etag = header(&brotli, header::ETAG).to_owned();

    let gzip = get(&app, "/socket.io/socket.io.js", "gzip").await;
    assert_eq!(header(&gzip, header::CONTENT_ENCODING), "gzip");

    let plain = get(&app, "/socket.io/socket.io.js", "identity").await;
    assert!(plain.headers().get(header::CONTENT_ENCODING).is_none());
    let body = plain.text().await.expect("body");
    assert!(body.contains("Socket.IO"), "not the socket.io client");

    let revalidated = Client::new()
        .get(format!("{}/socket.io/socket.io.js", app.url))
        .header(header::IF_NONE_MATCH, etag)
        .send()
        .await
        .expect("request");
    assert_eq!(revalidated.status(), StatusCode::NOT_MODIFIED);
    app.stop().await;
}

#[tokio::test]
async fn the_page_is_revalidated_and_hashed_assets_are_immutable() {
    let app = TestApp::spawn().await;

    let index = get(&app, "/", "identity").await;
    assert_eq!(
        index.status(),
        StatusCode::OK,
        "UI not embedded: run `cargo xtask test`"
    );
    assert_eq!(header(&index, header::CACHE_CONTROL), "no-cache");
    assert_eq!(
        header(&index, header::CONTENT_TYPE),
        "text/html; charset=utf-8"
    );
    let html = index.text().await.expect("body");

    // Every file the page links to is served, immutable, with its own type.
    let linked: Vec<&str> = html
        .split(['"', '\''])
        .filter(|part| part.starts_with('/') && part.contains('-'))
        .filter(|part| part.ends_with(".js") || part.ends_with(".wasm"))
        .collect();
    assert!(linked.iter().any(|path| path.ends_with(".wasm")), "{html}");
    // The stylesheet is inlined: the page paints without waiting for a second request.
    assert!(html.contains("<style>"), "{html}");
    for path in linked {
        let asset = get(&app, path, "br").await;
        assert_eq!(asset.status(), StatusCode::OK, "{path}");
        assert_eq!(
            header(&asset, header::CACHE_CONTROL),
            "public, max-age=31536000, immutable",
            "{path}"
        );
        assert_eq!(header(&asset, header::CONTENT_ENCODING), "br", "{path}");
    }

    let deep_link = get(&app, "/some/room", "identity").await;
    assert_eq!(deep_link.text().await.expect("body"), html);
    assert_eq!(
        get(&app, "/missing.png", "identity").await.status(),
        StatusCode::NOT_FOUND
    );
    app.stop().await;
}
