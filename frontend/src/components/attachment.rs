//! A file a message carries: a picture shown inline (the thumbnail the server made), any other
//! file as a card with its name and size; both can be downloaded. The bytes are fetched with the
//! session's token and shown through `blob:` URLs, freed when the row goes. A file is never
//! opened in the page: a download is a download (the server serves anything but the four image
//! types as `application/octet-stream`).

use std::sync::{Arc, Mutex};

use leptos::prelude::*;
use shared::{FileInfo, ImageSize};
use wasm_bindgen::JsCast;

use crate::{http, storage};

/// The longer side of a thumbnail, in CSS pixels (the server makes them at most this size).
const THUMBNAIL: f64 = 360.0;

#[component]
pub fn Attachment(file: FileInfo) -> impl IntoView {
    let download = {
        let file = file.clone();
        move |_| save(&file)
    };
    let label = format!("Download {} ({})", file.name, size(file.size));
    match file.image {
        Some(image) => {
            let (width, height) = thumbnail_size(image);
            let src = blob_url(format!("/files/{}/thumbnail", file.id));
            view! {
                <figure class="attachment picture">
                    <img src=src alt=file.name.clone() width=width height=height />
                    <figcaption>
                        <button type="button" class="link" on:click=download>{label}</button>
                    </figcaption>
                </figure>
            }
            .into_any()
        }
        None => view! {
            <div class="attachment card">
                <span class="file-name">{file.name.clone()}</span>
                <span class="file-size">{size(file.size)}</span>
                <button type="button" aria-label=label on:click=download>"Download"</button>
            </div>
        }
        .into_any(),
    }
}

/// A signal of the `blob:` URL of `path`, once fetched; the URL is freed with the component.
fn blob_url(path: String) -> RwSignal<Option<String>> {
    let url = RwSignal::new(None::<String>);
    let made = Arc::new(Mutex::new(None::<String>));
    on_cleanup({
        let made = Arc::clone(&made);
        move || {
            if let Some(url) = made.lock().ok().and_then(|mut made| made.take()) {
                http::revoke_object_url(&url);
            }
        }
    });
    let Some(token) = storage::token() else {
        return url;
    };
    leptos::task::spawn_local(async move {
        match http::file_url(&token, &path).await {
            // Gone meanwhile: nothing will free it but this.
            Ok(blob) if url.try_set(Some(blob.clone())).is_some() => {
                http::revoke_object_url(&blob);
            }
            Ok(blob) => {
                if let Ok(mut made) = made.lock() {
                    *made = Some(blob);
                }
            }
            Err(error) => leptos::logging::warn!("file {path}: {}", error.message),
        }
    });
    url
}

/// Downloads `file` under its name.
fn save(file: &FileInfo) {
    let Some(token) = storage::token() else {
        return;
    };
    let (id, name) = (file.id.clone(), file.name.clone());
    leptos::task::spawn_local(async move {
        let url = match http::file_url(&token, &format!("/files/{id}")).await {
            Ok(url) => url,
            Err(error) => return leptos::logging::warn!("download: {}", error.message),
        };
        let link = document()
            .create_element("a")
            .ok()
            .and_then(|link| link.dyn_into::<web_sys::HtmlElement>().ok());
        // Clicked in the page (a link outside it downloads nothing in some browsers).
        if let Some(link) = link
            && let Some(body) = document().body()
            && link.set_attribute("href", &url).is_ok()
            && link.set_attribute("download", &name).is_ok()
            && body.append_child(&link).is_ok()
        {
            link.click();
            link.remove();
        }
        // The browser has taken the bytes by then.
        set_timeout(
            move || http::revoke_object_url(&url),
            std::time::Duration::from_secs(60),
        );
    });
}

/// An image's thumbnail size: at most [`THUMBNAIL`] on its longer side, never enlarged.
fn thumbnail_size(image: ImageSize) -> (u32, u32) {
    let (width, height) = (f64::from(image.width), f64::from(image.height));
    let scale = (THUMBNAIL / width.max(height)).min(1.0);
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let round = |side: f64| (side * scale).round().max(1.0) as u32;
    (round(width), round(height))
}

/// A size in bytes as people read it: "512 bytes", "48 KB", "3.4 MB".
pub fn size(bytes: u64) -> String {
    #[allow(clippy::cast_precision_loss)]
    let kb = bytes as f64 / 1024.0;
    match bytes {
        0..1024 => format!("{bytes} bytes"),
        _ if kb < 1024.0 => format!("{kb:.0} KB"),
        _ => format!("{:.1} MB", kb / 1024.0),
    }
}

#[cfg(test)]
mod tests {
    use shared::ImageSize;

    use super::{size, thumbnail_size};

    #[test]
    fn thumbnails_fit_and_are_never_enlarged() {
        let image = |width, height| ImageSize { width, height };
        assert_eq!(thumbnail_size(image(800, 600)), (360, 270));
        assert_eq!(thumbnail_size(image(600, 1_200)), (180, 360));
        assert_eq!(thumbnail_size(image(40, 30)), (40, 30));
        assert_eq!(thumbnail_size(image(10_000, 1)), (360, 1));
    }

    #[test]
    fn sizes_read_as_people_say_them() {
        assert_eq!(size(512), "512 bytes");
        assert_eq!(size(48_213), "47 KB");
        assert_eq!(size(3_565_158), "3.4 MB");
    }
}
