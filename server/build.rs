//! Embeds the built UI and the Socket.io browser client into the binary, precompressed.
//!
//! Inputs: the Trunk output (`frontend/dist`, or `CHAT_UI_DIR`) and the npm package
//! `socket.io-client`. Either may be missing (a plain `cargo check`): the table is then
//! smaller and the server explains at `/` how to build the UI.
//! Output: `$OUT_DIR/assets.rs`, a `&[Asset]` with raw, gzip and brotli bodies.

use std::{
    env,
    fmt::Write as _,
    fs,
    path::{Path, PathBuf},
};

fn main() {
    let manifest = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("set by cargo"));
    println!("cargo:rerun-if-env-changed=CHAT_UI_DIR");
    // sqlx::migrate! embeds the migrations; new files must trigger a rebuild.
    println!("cargo:rerun-if-changed=migrations");
    let ui_dir = env::var_os("CHAT_UI_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| manifest.join("../frontend/dist"));
    let client = manifest.join("../node_modules/socket.io-client/dist/socket.io.min.js");
    println!("cargo:rerun-if-changed={}", ui_dir.display());
    println!("cargo:rerun-if-changed={}", client.display());

    let mut files = Vec::new();
    if ui_dir.is_dir() {
        collect(&ui_dir, &ui_dir, &mut files);
    } else {
        println!(
            "cargo:warning=UI not found at {}; the binary will serve no UI (run `cargo xtask build`)",
            ui_dir.display()
        );
    }
    if client.is_file() {
        files.push(("/socket.io/socket.io.js".to_owned(), client));
    } else {
        println!(
            "cargo:warning=socket.io-client not installed (run `npm ci`); /socket.io/socket.io.js will be missing"
        );
    }
    files.sort();

    let blobs = out.join("assets");
    fs::create_dir_all(&blobs).expect("create OUT_DIR/assets");
    let mut table = String::from("&[\n");
    let mut inline_hashes = (String::new(), String::new());
    for (index, (route, path)) in files.iter().enumerate() {
        let raw = fs::read(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
        if route == "/index.html" {
            let html = String::from_utf8_lossy(&raw);
            inline_hashes = (
                inline_hashes_of(&html, "script"),
                inline_hashes_of(&html, "style"),
            );
        }
        let content_type = content_type(route);
        let write_blob = |suffix: &str, bytes: &[u8]| {
            let blob = blobs.join(format!("{index}.{suffix}"));
            fs::write(&blob, bytes).expect("write blob");
            format!("include_bytes!({:?})", blob.display().to_string())
        };
        let compressed = |bytes: Option<Vec<u8>>, suffix: &str| match bytes {
            // Only worth serving when it saves at least a tenth.
            Some(bytes) if bytes.len() * 10 < raw.len() * 9 => {
                format!("Some({})", write_blob(suffix, &bytes))
            }
            _ => "None".to_owned(),
        };
        let compressible = !content_type.starts_with("image/png");
        let gzip = compressed(compressible.then(|| gzip(&raw)), "gz");
        let brotli = compressed(compressible.then(|| brotli(&raw)), "br");
        writeln!(
            table,
            "    Asset {{ path: {route:?}, content_type: {content_type:?}, etag: \"\\\"{:016x}\\\"\", \
             immutable: {}, raw: {}, gzip: {gzip}, brotli: {brotli} }},",
            fnv1a(&raw),
            is_hashed(route),
            write_blob("raw", &raw),
        )
        .expect("write to string");
    }
    table.push(']');
    fs::write(out.join("assets.rs"), table).expect("write assets.rs");
    fs::write(out.join("inline_hashes.rs"), format!("{inline_hashes:?}"))
        .expect("write inline_hashes.rs");
}

/// The Content-Security-Policy sources that allow exactly the page's inline `element`s (`script`:
/// Trunk's loader; `style`: the inlined stylesheet), `'sha256-…'` each, separated by spaces.
/// Nothing else inline may run or apply.
fn inline_hashes_of(html: &str, element: &str) -> String {
    use base64::Engine as _;
    use sha2::Digest as _;
    let (open, close) = (format!("<{element}"), format!("</{element}>"));
    let mut sources = Vec::new();
    let mut rest = html;
    while let Some(start) = rest.find(&open) {
        let after = &rest[start..];
        let tag_end = after.find('>').expect("a tag ends");
        let body_end = after.find(&close).expect("an element is closed");
        let (tag, body) = (&after[..tag_end], &after[tag_end + 1..body_end]);
        if !tag.contains("src=") {
            let digest = sha2::Sha256::digest(body.as_bytes());
            let hash = base64::engine::general_purpose::STANDARD.encode(digest);
            sources.push(format!("'sha256-{hash}'"));
        }
        rest = &after[body_end..];
    }
    sources.join(" ")
}

/// Every file below `dir`, as (URL path, file path).
fn collect(root: &Path, dir: &Path, files: &mut Vec<(String, PathBuf)>) {
    for entry in fs::read_dir(dir).unwrap_or_else(|e| panic!("read {}: {e}", dir.display())) {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            // Trunk's staging folder while a build is under way.
            if !path.ends_with(".stage") {
                collect(root, &path, files);
            }
        } else {
            let relative = path.strip_prefix(root).expect("below root");
            files.push((format!("/{}", relative.display()), path));
        }
    }
}

fn content_type(route: &str) -> &'static str {
    match route.rsplit('.').next().unwrap_or_default() {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "wasm" => "application/wasm",
        "json" | "map" => "application/json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "txt" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

/// Trunk names its outputs `name-<hash>.ext`, the hash a 64-bit number in hex without leading
/// zeros (so usually 16 digits, sometimes fewer): such a URL never changes content.
fn is_hashed(route: &str) -> bool {
    let stem = route.rsplit('/').next().unwrap_or_default();
    let stem = stem.split('.').next().unwrap_or_default();
    let stem = stem.strip_suffix("_bg").unwrap_or(stem);
    stem.rsplit_once('-').is_some_and(|(_, hash)| {
        (8..=16).contains(&hash.len()) && hash.chars().all(|c| c.is_ascii_hexdigit())
    })
}

/// Zopfli: standard gzip that any browser inflates, about 5% smaller than zlib's best level for
/// the WebAssembly, at a few seconds of build time.
fn gzip(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    zopfli::compress(
        zopfli::Options::default(),
        zopfli::Format::Gzip,
        raw,
        &mut out,
    )
    .expect("gzip in memory");
    out
}

fn brotli(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let params = brotli::enc::BrotliEncoderParams {
        quality: 11,
        lgwin: 22,
        ..Default::default()
    };
    brotli::BrotliCompress(&mut &raw[..], &mut out, &params).expect("brotli in memory");
    out
}

/// A stable content hash for the ETag (FNV-1a, 64 bits).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    })
}
