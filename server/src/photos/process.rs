//! Turning an uploaded photo file into what reviewers see (SPEC §7): decode
//! under limits, read EXIF (time taken, place, orientation), make a
//! thumbnail and a review-size JPEG with no metadata at all, and compute a
//! 64-bit perceptual hash. Pure CPU work on bytes in memory: the caller
//! runs it on a blocking thread.
//!
//! JPEG is decoded at a reduced scale where the review size allows (DCT
//! scaling), which is most of the speed and memory saving on phone photos.

use std::io::Cursor;

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime};
use fast_image_resize::images::Image;
use fast_image_resize::{FilterType, PixelType, ResizeAlg, ResizeOptions, Resizer};
use image::codecs::jpeg::JpegEncoder;
use image::metadata::Orientation;
use image::{DynamicImage, ImageReader, RgbImage};

/// Longer side of the thumbnail, in pixels.
pub const THUMBNAIL_PX: u32 = 320;
/// Longer side of the review image, in pixels.
pub const REVIEW_PX: u32 = 1600;
/// Largest JPEG accepted, in pixels (a 200-megapixel phone sensor fits:
/// JPEG decodes at a reduced scale, so memory stays small).
pub const MAX_JPEG_PIXELS: u64 = 210_000_000;
/// Largest progressive JPEG accepted, in pixels: its coefficients are kept
/// at full size while it decodes, whatever the output scale.
pub const MAX_PROGRESSIVE_PIXELS: u64 = 40_000_000;
/// Largest PNG or WebP accepted, in pixels: these decode at full size.
pub const MAX_OTHER_PIXELS: u64 = 50_000_000;
/// Longest side accepted, in pixels.
pub const MAX_SIDE: u32 = 30_000;
/// Most memory a decoder may ask for.
const MAX_DECODE_BYTES: u64 = 256 * 1024 * 1024;
const JPEG_QUALITY: u8 = 82;

/// When EXIF says the photo was taken. `offset` is missing when the camera
/// wrote none; the local time is then read in the store's time zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExifTime {
    pub local: NaiveDateTime,
    pub offset: Option<FixedOffset>,
}

impl ExifTime {
    /// The instant, reading a time without offset in `tz`.
    pub fn resolve(&self, tz: chrono_tz::Tz) -> Option<DateTime<chrono::Utc>> {
        use chrono::TimeZone;
        match self.offset {
            Some(o) => o
                .from_local_datetime(&self.local)
                .single()
                .map(|t| t.to_utc()),
            None => tz
                .from_local_datetime(&self.local)
                .earliest()
                .map(|t| t.to_utc()),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Processed {
    /// The file's format: `image/jpeg`, `image/png` or `image/webp`.
    pub format: &'static str,
    /// Upright size of the original.
    pub width: u32,
    pub height: u32,
    pub taken: Option<ExifTime>,
    /// (latitude, longitude) in degrees.
    pub gps: Option<(f64, f64)>,
    /// EXIF orientation applied to the derivatives (1 = upright).
    pub orientation: u8,
    pub thumbnail: Vec<u8>,
    pub review: Vec<u8>,
    /// Gradient hash of the upright image.
    pub phash: u64,
}

/// Why a file cannot be evidence; shown to reviewers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid(pub String);

fn invalid(reason: impl Into<String>) -> Invalid {
    Invalid(reason.into())
}

/// The image format the bytes begin with.
pub fn sniff(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("image/jpeg")
    } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if bytes.len() >= 12 && &bytes[0..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        Some("image/webp")
    } else {
        None
    }
}

fn check_size(width: u32, height: u32, max_pixels: u64) -> Result<(), Invalid> {
    if width == 0 || height == 0 {
        return Err(invalid("the image has no pixels"));
    }
    if width > MAX_SIDE || height > MAX_SIDE || u64::from(width) * u64::from(height) > max_pixels {
        return Err(invalid(format!(
            "the image is {width}×{height} pixels, larger than the {MAX_SIDE}-pixel side or \
             {} megapixels accepted",
            max_pixels / 1_000_000
        )));
    }
    Ok(())
}

/// Process one photo file whose manifest says `declared` (a content type).
pub fn process(bytes: &[u8], declared: &str) -> Result<Processed, Invalid> {
    let Some(format) = sniff(bytes) else {
        return Err(invalid(
            "the file is not a JPEG, PNG or WebP image".to_owned(),
        ));
    };
    if !declared.eq_ignore_ascii_case(format) {
        return Err(invalid(format!(
            "the file is {format}, but the manifest says {declared}"
        )));
    }
    let meta = read_exif(bytes);
    let (decoded, width, height) = match format {
        "image/jpeg" => decode_jpeg(bytes, REVIEW_PX)?,
        _ => decode_other(bytes)?,
    };
    let orientation = Orientation::from_exif(meta.orientation).unwrap_or(Orientation::NoTransforms);
    let review = fit(&decoded, REVIEW_PX)?;
    let mut review = DynamicImage::ImageRgb8(review);
    review.apply_orientation(orientation);
    let review = review.into_rgb8();
    let thumbnail = fit(&review, THUMBNAIL_PX)?;
    let (width, height) = if review.width() >= review.height() {
        (width.max(height), width.min(height))
    } else {
        (width.min(height), width.max(height))
    };
    Ok(Processed {
        format,
        width,
        height,
        taken: meta.taken,
        gps: meta.gps,
        orientation: if orientation == Orientation::NoTransforms {
            1
        } else {
            meta.orientation
        },
        phash: gradient_hash(&thumbnail),
        thumbnail: encode(&thumbnail)?,
        review: encode(&review)?,
    })
}

/// The thumbnail alone, upright, decoded at the smallest scale that covers
/// it: a quick preview of a file before (or without) full processing.
pub fn thumbnail(bytes: &[u8]) -> Result<Vec<u8>, Invalid> {
    let (decoded, _, _) = match sniff(bytes) {
        Some("image/jpeg") => decode_jpeg(bytes, THUMBNAIL_PX)?,
        Some(_) => decode_other(bytes)?,
        None => return Err(invalid("the file is not a JPEG, PNG or WebP image")),
    };
    let orientation =
        Orientation::from_exif(read_exif(bytes).orientation).unwrap_or(Orientation::NoTransforms);
    let mut small = DynamicImage::ImageRgb8(fit(&decoded, THUMBNAIL_PX)?);
    small.apply_orientation(orientation);
    encode(&small.into_rgb8())
}

/// Decode a JPEG at the smallest DCT scale that still covers `px` on the
/// longer side. Returns the pixels and the file's full size.
fn decode_jpeg(bytes: &[u8], px: u32) -> Result<(RgbImage, u32, u32), Invalid> {
    let bad = |e: jpeg_decoder::Error| invalid(format!("the JPEG cannot be decoded: {e}"));
    let mut decoder = jpeg_decoder::Decoder::new(Cursor::new(bytes));
    decoder.set_max_decoding_buffer_size(usize::try_from(MAX_DECODE_BYTES).unwrap_or(usize::MAX));
    decoder.read_info().map_err(bad)?;
    let Some(info) = decoder.info() else {
        return Err(invalid("the JPEG has no frame header"));
    };
    let (w, h) = (u32::from(info.width), u32::from(info.height));
    let limit = match info.coding_process {
        jpeg_decoder::CodingProcess::DctSequential => MAX_JPEG_PIXELS,
        _ => MAX_PROGRESSIVE_PIXELS,
    };
    check_size(w, h, limit)?;
    let long = w.max(h);
    let want = |side: u32| {
        u16::try_from(
            (u64::from(side) * u64::from(px.min(long)))
                .div_ceil(u64::from(long))
                .max(1),
        )
        .unwrap_or(u16::MAX)
    };
    let (sw, sh) = decoder.scale(want(w), want(h)).map_err(bad)?;
    let pixels = decoder.decode().map_err(bad)?;
    let (sw, sh) = (u32::from(sw), u32::from(sh));
    let n = sw as usize * sh as usize;
    let rgb: Vec<u8> = match info.pixel_format {
        jpeg_decoder::PixelFormat::RGB24 => pixels,
        jpeg_decoder::PixelFormat::L8 => pixels.iter().flat_map(|&l| [l, l, l]).collect(),
        // Native-endian 16-bit samples of however many bits the file has.
        jpeg_decoder::PixelFormat::L16 => pixels
            .chunks_exact(2)
            .flat_map(|c| {
                let v = u16::from_ne_bytes([c[0], c[1]]);
                let l = u8::try_from(v >> 8).unwrap_or(u8::MAX);
                [l, l, l]
            })
            .collect(),
        jpeg_decoder::PixelFormat::CMYK32 => pixels
            .chunks_exact(4)
            .flat_map(|c| {
                let k = u16::from(c[3]);
                let ch = |v: u8| u8::try_from(u16::from(v) * k / 255).unwrap_or(u8::MAX);
                [ch(c[0]), ch(c[1]), ch(c[2])]
            })
            .collect(),
    };
    if rgb.len() < n * 3 {
        return Err(invalid(
            "the JPEG decoded to fewer pixels than its header says",
        ));
    }
    let image = RgbImage::from_raw(sw, sh, rgb)
        .ok_or_else(|| invalid("the JPEG decoded to fewer pixels than its header says"))?;
    Ok((image, w, h))
}

fn decode_other(bytes: &[u8]) -> Result<(RgbImage, u32, u32), Invalid> {
    let mut reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| invalid(format!("the image cannot be read: {e}")))?;
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(MAX_DECODE_BYTES);
    reader.limits(limits);
    let decoder = reader
        .into_decoder()
        .map_err(|e| invalid(format!("the image cannot be decoded: {e}")))?;
    let (w, h) = image::ImageDecoder::dimensions(&decoder);
    check_size(w, h, MAX_OTHER_PIXELS)?;
    let image = DynamicImage::from_decoder(decoder)
        .map_err(|e| invalid(format!("the image cannot be decoded: {e}")))?;
    Ok((image.into_rgb8(), w, h))
}

/// Scale to fit `px` on the longer side (never enlarging).
fn fit(src: &RgbImage, px: u32) -> Result<RgbImage, Invalid> {
    let (w, h) = src.dimensions();
    let long = w.max(h);
    if long <= px {
        return Ok(src.clone());
    }
    let scale = |s: u32| {
        u32::try_from((u64::from(s) * u64::from(px) + u64::from(long) / 2) / u64::from(long))
            .unwrap_or(1)
            .max(1)
    };
    let (dw, dh) = (scale(w), scale(h));
    let resized = resize(
        src.as_raw(),
        w,
        h,
        dw,
        dh,
        PixelType::U8x3,
        FilterType::Lanczos3,
    )?;
    RgbImage::from_raw(dw, dh, resized).ok_or_else(|| invalid("resizing failed"))
}

fn resize(
    src: &[u8],
    w: u32,
    h: u32,
    dw: u32,
    dh: u32,
    pixel: PixelType,
    filter: FilterType,
) -> Result<Vec<u8>, Invalid> {
    let failed = |e: &dyn std::fmt::Display| invalid(format!("resizing failed: {e}"));
    let source =
        fast_image_resize::images::ImageRef::new(w, h, src, pixel).map_err(|e| failed(&e))?;
    let mut dest = Image::new(dw, dh, pixel);
    Resizer::new()
        .resize(
            &source,
            &mut dest,
            &ResizeOptions::new().resize_alg(ResizeAlg::Convolution(filter)),
        )
        .map_err(|e| failed(&e))?;
    Ok(dest.into_vec())
}

fn encode(image: &RgbImage) -> Result<Vec<u8>, Invalid> {
    let mut out = Vec::new();
    JpegEncoder::new_with_quality(&mut out, JPEG_QUALITY)
        .encode_image(image)
        .map_err(|e| invalid(format!("encoding the derivative failed: {e}")))?;
    Ok(out)
}

/// A 64-bit gradient hash: the image in grey at 9×8, one bit per pair of
/// horizontal neighbours (set when the right one is brighter). Resizing and
/// recompression move few bits; different scenes differ in about half.
pub fn gradient_hash(image: &RgbImage) -> u64 {
    let grey: Vec<u8> = image
        .pixels()
        .map(|p| {
            let [r, g, b] = p.0;
            u8::try_from((u32::from(r) * 299 + u32::from(g) * 587 + u32::from(b) * 114) / 1000)
                .unwrap_or(u8::MAX)
        })
        .collect();
    let small = resize(
        &grey,
        image.width(),
        image.height(),
        9,
        8,
        PixelType::U8,
        FilterType::Box,
    )
    .unwrap_or_else(|_| vec![0; 72]);
    let mut hash = 0u64;
    for row in 0..8 {
        for col in 0..8 {
            let left = small[row * 9 + col];
            let right = small[row * 9 + col + 1];
            hash = (hash << 1) | u64::from(right > left);
        }
    }
    hash
}

/// Bits that differ between two hashes.
pub fn distance(a: u64, b: u64) -> u32 {
    (a ^ b).count_ones()
}

/// The hash in four 16-bit bands, each stored in an indexed column.
pub fn bands(hash: u64) -> [i32; 4] {
    [0, 1, 2, 3].map(|i| i32::from(((hash >> (16 * i)) & 0xFFFF) as u16))
}

/// Band values to look up so that every stored hash within `max_distance`
/// (at most 7) of `hash` is among the candidates: with four bands, two
/// hashes within `d` bits agree to within `d / 4` bits on some band, so the
/// lookup takes each band's value and, for `d` of 4 or more, every value one
/// bit away.
pub fn probes(hash: u64, max_distance: u32) -> [Vec<i32>; 4] {
    bands(hash).map(|b| {
        let mut values = vec![b];
        if max_distance >= 4 {
            values.extend((0..16).map(|bit| b ^ (1 << bit)));
        }
        values
    })
}

/// The largest distance `probes` can guarantee to find.
pub const MAX_REUSE_DISTANCE: u32 = 7;

#[derive(Debug, Default)]
struct Meta {
    taken: Option<ExifTime>,
    gps: Option<(f64, f64)>,
    orientation: u8,
}

fn read_exif(bytes: &[u8]) -> Meta {
    use exif::{In, Tag, Value};
    let mut meta = Meta {
        orientation: 1,
        ..Meta::default()
    };
    let Ok(exif) = exif::Reader::new().read_from_container(&mut Cursor::new(bytes)) else {
        return meta;
    };
    let ascii = |tag| match exif.get_field(tag, In::PRIMARY).map(|f| &f.value) {
        Some(Value::Ascii(v)) => v.first().cloned(),
        _ => None,
    };
    if let Some(o) = exif
        .get_field(Tag::Orientation, In::PRIMARY)
        .and_then(|f| f.value.get_uint(0))
        .and_then(|o| u8::try_from(o).ok())
        .filter(|o| (1..=8).contains(o))
    {
        meta.orientation = o;
    }
    if let Some(text) = ascii(Tag::DateTimeOriginal).or_else(|| ascii(Tag::DateTime))
        && let Ok(mut dt) = exif::DateTime::from_ascii(&text)
    {
        if let Some(off) = ascii(Tag::OffsetTimeOriginal).or_else(|| ascii(Tag::OffsetTime)) {
            let _ = dt.parse_offset(&off);
        }
        let local =
            NaiveDate::from_ymd_opt(i32::from(dt.year), u32::from(dt.month), u32::from(dt.day))
                .and_then(|d| {
                    d.and_hms_opt(
                        u32::from(dt.hour),
                        u32::from(dt.minute),
                        u32::from(dt.second),
                    )
                });
        if let Some(local) = local {
            meta.taken = Some(ExifTime {
                local,
                offset: dt
                    .offset
                    .and_then(|m| FixedOffset::east_opt(i32::from(m) * 60)),
            });
        }
    }
    let coord = |tag, reference, negative: &[u8]| -> Option<f64> {
        let Value::Rational(parts) = &exif.get_field(tag, In::PRIMARY)?.value else {
            return None;
        };
        let [d, m, s] = [parts.first()?, parts.get(1)?, parts.get(2)?].map(|r| r.to_f64());
        let mut v = d + m / 60.0 + s / 3600.0;
        if ascii(reference).is_some_and(|r| r.first().is_some_and(|c| negative.contains(c))) {
            v = -v;
        }
        v.is_finite().then_some(v)
    };
    if let (Some(lat), Some(lon)) = (
        coord(Tag::GPSLatitude, Tag::GPSLatitudeRef, b"Ss"),
        coord(Tag::GPSLongitude, Tag::GPSLongitudeRef, b"Ww"),
    ) && (-90.0..=90.0).contains(&lat)
        && (-180.0..=180.0).contains(&lon)
    {
        meta.gps = Some((lat, lon));
    }
    meta
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bands_cover_the_hash() {
        let h = 0x0123_4567_89AB_CDEF_u64;
        assert_eq!(bands(h), [0xCDEF, 0x89AB, 0x4567, 0x0123]);
        assert_eq!(bands(u64::MAX), [0xFFFF; 4]);
    }

    /// Every hash within the distance shares a probed band value: checked
    /// for each distance over many random flips.
    #[test]
    fn probes_find_every_hash_within_the_distance() {
        let mut seed = 0x9E37_79B9_7F4A_7C15_u64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for d in 0..=MAX_REUSE_DISTANCE {
            for _ in 0..2000 {
                let h = next();
                let mut other = h;
                let mut flipped = 0;
                while flipped < d {
                    let bit = 1u64 << (next() % 64);
                    if other & bit == h & bit {
                        other ^= bit;
                        flipped += 1;
                    }
                }
                assert_eq!(distance(h, other), d);
                let p = probes(h, d);
                let b = bands(other);
                assert!(
                    (0..4).any(|i| p[i].contains(&b[i])),
                    "distance {d}: {h:016x} vs {other:016x} shares no probed band"
                );
            }
        }
    }

    #[test]
    fn sniffing_reads_the_magic_bytes() {
        assert_eq!(sniff(&[0xFF, 0xD8, 0xFF, 0xE0]), Some("image/jpeg"));
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\n...."), Some("image/png"));
        assert_eq!(sniff(b"RIFF\0\0\0\0WEBPVP8 "), Some("image/webp"));
        assert_eq!(sniff(b"GIF89a"), None);
        assert_eq!(sniff(b""), None);
    }

    #[test]
    fn sizes_are_bounded() {
        assert!(check_size(4000, 3000, MAX_OTHER_PIXELS).is_ok());
        assert!(check_size(16_320, 12_240, MAX_JPEG_PIXELS).is_ok());
        assert!(check_size(16_320, 12_240, MAX_OTHER_PIXELS).is_err());
        assert!(check_size(0, 10, MAX_JPEG_PIXELS).is_err());
        assert!(check_size(MAX_SIDE + 1, 10, MAX_JPEG_PIXELS).is_err());
    }

    #[test]
    fn exif_time_without_offset_is_read_in_the_store_zone() {
        let local = NaiveDate::from_ymd_opt(2026, 6, 1)
            .and_then(|d| d.and_hms_opt(10, 0, 0))
            .expect("date");
        let t = ExifTime {
            local,
            offset: None,
        };
        let shanghai = t.resolve(chrono_tz::Asia::Shanghai).expect("time");
        assert_eq!(shanghai.to_rfc3339(), "2026-06-01T02:00:00+00:00");
        let t = ExifTime {
            local,
            offset: FixedOffset::east_opt(-5 * 3600),
        };
        let resolved = t.resolve(chrono_tz::Asia::Shanghai).expect("time");
        assert_eq!(resolved.to_rfc3339(), "2026-06-01T15:00:00+00:00");
    }
}
