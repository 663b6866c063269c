//! Which uploads are images, and their thumbnails.
//!
//! An upload is an image only if the server decodes it itself, whole, as PNG, JPEG, GIF or
//! WebP (the `image` crate with those four codecs and no others): what the uploader claimed is
//! never asked. Only such a file is ever served as `image/*`; anything else (SVG and HTML
//! included) is a download. Decoding is bounded (`image::Limits`: each side, and the memory the
//! decoder may allocate), so a small file that declares an enormous picture is refused before it
//! takes the memory, and it runs on a blocking thread, one image at a time per node.
//!
//! Thumbnails fit in [`THUMBNAIL_SIDE`] pixels (never enlarged): JPEG at quality 80 for an
//! opaque image, PNG for one with transparency. JPEG because photos are what people paste most
//! and a 360-pixel JPEG weighs a tenth of the PNG of it (and the `image` crate's WebP encoder
//! is lossless only, so no smaller); PNG where JPEG would paint transparent pixels black
//! (screenshots of windows, logos, stickers). A thumbnail is itself decoded by the browser from
//! bytes the server made.

use std::io::Cursor;

use image::{DynamicImage, ImageEncoder, ImageFormat, ImageReader, Limits};

/// A thumbnail's longer side at most, in pixels: a message's picture in the list, sharp on a
/// screen of two device pixels per CSS pixel at 180 CSS pixels.
pub const THUMBNAIL_SIDE: u32 = 360;
/// The largest side an image may have.
const MAX_SIDE: u32 = 16_384;
/// The most memory a decoder may allocate: a 64-megapixel picture in RGBA, or a 48-megapixel
/// phone photo in RGB with room to spare. Larger ones are kept as plain files.
const MAX_ALLOC: u64 = 256 * 1024 * 1024;
/// JPEG thumbnails' quality (1-100).
const JPEG_QUALITY: u8 = 80;

/// An upload the server decoded as an image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Image {
    /// `image/png`, `image/jpeg`, `image/gif` or `image/webp`.
    pub content_type: &'static str,
    pub width: u32,
    pub height: u32,
    /// The thumbnail, PNG or JPEG ([`thumbnail_type`] tells which).
    pub thumbnail: Vec<u8>,
}

/// `data` as an image with its thumbnail, if it is a whole PNG, JPEG, GIF (its first frame is
/// the thumbnail) or WebP within the limits; `None` for anything else. CPU-bound: call it off
/// the async threads.
pub fn inspect(data: &[u8]) -> Option<Image> {
    let (content_type, image) = decode(data).ok()??;
    let (width, height) = (image.width(), image.height());
    if width == 0 || height == 0 {
        return None;
    }
    Some(Image {
        content_type,
        width,
        height,
        thumbnail: thumbnail(image)?,
    })
}

/// `data` decoded, with its content type, if it is in one of the four formats; an error if it
/// is broken or beyond the limits.
fn decode(data: &[u8]) -> image::ImageResult<Option<(&'static str, DynamicImage)>> {
    let mut reader = ImageReader::new(Cursor::new(data)).with_guessed_format()?;
    let content_type = match reader.format() {
        Some(ImageFormat::Png) => "image/png",
        Some(ImageFormat::Jpeg) => "image/jpeg",
        Some(ImageFormat::Gif) => "image/gif",
        Some(ImageFormat::WebP) => "image/webp",
        _ => return Ok(None),
    };
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(MAX_ALLOC);
    reader.limits(limits);
    Ok(Some((content_type, reader.decode()?)))
}

/// `image` made to fit in [`THUMBNAIL_SIDE`], encoded.
fn thumbnail(image: DynamicImage) -> Option<Vec<u8>> {
    let small = if image.width() > THUMBNAIL_SIDE || image.height() > THUMBNAIL_SIDE {
        image.thumbnail(THUMBNAIL_SIDE, THUMBNAIL_SIDE)
    } else {
        image
    };
    let mut out = Vec::new();
    if small.color().has_alpha() {
        let rgba = small.to_rgba8();
        image::codecs::png::PngEncoder::new(&mut out)
            .write_image(
                rgba.as_raw(),
                rgba.width(),
                rgba.height(),
                image::ExtendedColorType::Rgba8,
            )
            .ok()?;
    } else {
        let rgb = small.to_rgb8();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, JPEG_QUALITY)
            .write_image(
                rgb.as_raw(),
                rgb.width(),
                rgb.height(),
                image::ExtendedColorType::Rgb8,
            )
            .ok()?;
    }
    Some(out)
}

/// The content type of a thumbnail [`inspect`] made: PNG's signature, or else JPEG.
pub fn thumbnail_type(thumbnail: &[u8]) -> &'static str {
    if thumbnail.starts_with(b"\x89PNG\r\n\x1a\n") {
        "image/png"
    } else {
        "image/jpeg"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `width` x `height` picture in `format`, opaque or not.
    fn picture(width: u32, height: u32, format: ImageFormat, alpha: bool) -> Vec<u8> {
        let image = if alpha {
            DynamicImage::ImageRgba8(image::RgbaImage::from_fn(width, height, |x, y| {
                image::Rgba([(x % 256) as u8, (y % 256) as u8, 90, 128])
            }))
        } else {
            DynamicImage::ImageRgb8(image::RgbImage::from_fn(width, height, |x, y| {
                image::Rgb([(x % 256) as u8, (y % 256) as u8, 90])
            }))
        };
        let mut out = Cursor::new(Vec::new());
        image.write_to(&mut out, format).unwrap();
        out.into_inner()
    }

    fn size_of(thumbnail: &[u8]) -> (u32, u32) {
        let image = image::load_from_memory(thumbnail).unwrap();
        (image.width(), image.height())
    }

    #[test]
    fn images_of_the_four_formats_are_recognised_with_a_thumbnail() {
        for (format, content_type) in [
            (ImageFormat::Png, "image/png"),
            (ImageFormat::Jpeg, "image/jpeg"),
            (ImageFormat::Gif, "image/gif"),
            (ImageFormat::WebP, "image/webp"),
        ] {
            let image = inspect(&picture(800, 400, format, false)).expect("an image");
            assert_eq!(image.content_type, content_type);
            assert_eq!((image.width, image.height), (800, 400));
            assert_eq!(size_of(&image.thumbnail), (360, 180), "{content_type}");
        }
    }

    #[test]
    fn thumbnails_are_jpeg_unless_transparent_and_never_enlarged() {
        let opaque = inspect(&picture(1000, 2000, ImageFormat::Png, false)).unwrap();
        assert_eq!(thumbnail_type(&opaque.thumbnail), "image/jpeg");
        assert_eq!(size_of(&opaque.thumbnail), (180, 360));
        let clear = inspect(&picture(50, 40, ImageFormat::Png, true)).unwrap();
        assert_eq!(thumbnail_type(&clear.thumbnail), "image/png");
        assert_eq!(size_of(&clear.thumbnail), (50, 40));
    }

    #[test]
    fn anything_else_is_no_image() {
        let png = picture(64, 64, ImageFormat::Png, false);
        let svg = br#"<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>"#;
        for data in [
            &b""[..],
            b"hello, this is text",
            b"<!doctype html><script>alert(1)</script>",
            svg,
            // A PNG cut short: its header says PNG, its pixels are not all there.
            &png[..png.len() / 2],
            // A BMP: a format the server does not decode.
            b"BM\x1e\0\0\0\0\0\0\0\x1a\0\0\0\x0c\0\0\0\x01\0\x01\0\x01\0\x18\0\0\0\xff\0",
        ] {
            assert_eq!(inspect(data), None, "{:?}", String::from_utf8_lossy(data));
        }
    }

    #[test]
    fn a_small_file_declaring_an_enormous_picture_is_refused_before_decoding() {
        // A 1 x 1 PNG whose header (its checksum made right) says 100,000 x 100,000 pixels
        // (30 GB decoded); and one within the sides but not the memory: 12,000 squared in RGB
        // is 432 MB, which the crate's default limit (512 MB) would let it allocate.
        for side in [100_000u32, 12_000] {
            let mut png = picture(1, 1, ImageFormat::Png, false);
            png[16..20].copy_from_slice(&side.to_be_bytes());
            png[20..24].copy_from_slice(&side.to_be_bytes());
            let crc = crc32(&png[12..29]);
            png[29..33].copy_from_slice(&crc.to_be_bytes());
            let refused = decode(&png);
            assert!(
                matches!(refused, Err(image::ImageError::Limits(_))),
                "{side}: {refused:?}"
            );
            assert_eq!(inspect(&png), None);
        }
    }

    /// PNG's chunk checksum (CRC-32, the ISO-HDLC one), bit by bit.
    fn crc32(bytes: &[u8]) -> u32 {
        let mut crc = !0u32;
        for &byte in bytes {
            crc ^= u32::from(byte);
            for _ in 0..8 {
                crc = if crc & 1 == 1 {
                    (crc >> 1) ^ 0xEDB8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }
}
