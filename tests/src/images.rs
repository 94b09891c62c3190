//! Photo fixtures made by code: a shop shelf seen through a camera (so two
//! shots of one shelf are different pictures of the same place), JPEGs
//! with chosen EXIF (orientation, time taken, GPS), and broken files.

use std::io::Cursor;

use image::codecs::jpeg::JpegEncoder;
use image::{Rgb, RgbImage};

/// Where the camera stands in front of the shelf: the part of the shelf in
/// view (left, top, width as fractions of the shelf) and the light.
#[derive(Debug, Clone, Copy)]
pub struct View {
    pub left: f64,
    pub top: f64,
    pub width: f64,
    pub brightness: f64,
    /// Sensor noise, in levels of 255 either way: a real photo's detail,
    /// which makes files as large as a phone's and as slow to decode.
    pub grain: f64,
}

impl Default for View {
    fn default() -> Self {
        View {
            left: 0.0,
            top: 0.0,
            width: 1.0,
            brightness: 1.0,
            grain: 0.0,
        }
    }
}

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn unit(&mut self) -> f64 {
        (self.next() % 10_000) as f64 / 10_000.0
    }
}

/// A shelf of four boards with products of random widths and colours,
/// seen through `view`; `seed` chooses the shelf.
pub fn shelf(seed: u64, width: u32, height: u32, view: View) -> RgbImage {
    let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let boards: Vec<Vec<(f64, [f64; 3])>> = (0..4)
        .map(|_| {
            let mut x = 0.0;
            let mut products = Vec::new();
            while x < 1.0 {
                x += 0.04 + 0.12 * rng.unit();
                products.push((x, [rng.unit(), rng.unit(), rng.unit()]));
            }
            products
        })
        .collect();
    let aspect = f64::from(height) / f64::from(width);
    RgbImage::from_fn(width, height, |px, py| {
        let x = view.left + view.width * (f64::from(px) + 0.5) / f64::from(width);
        let y = view.top + view.width * aspect * (f64::from(py) + 0.5) / f64::from(height);
        let board = ((y * 4.0).floor().clamp(0.0, 3.0)) as usize;
        let within = y * 4.0 - board as f64;
        let colour = if within > 0.9 {
            // The board itself, lit from above.
            [0.55, 0.4, 0.25]
        } else {
            let products = &boards[board];
            let i = products.partition_point(|(end, _)| *end < x);
            let (_, c) = products[i.min(products.len() - 1)];
            let shade = 0.7 + 0.3 * within;
            [c[0] * shade, c[1] * shade, c[2] * shade]
        };
        let mut noise = [0.0; 3];
        if view.grain > 0.0 {
            let mut z = (u64::from(px) << 32 | u64::from(py)) ^ seed;
            for n in &mut noise {
                z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
                let mut x = z;
                x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
                x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
                *n = ((x >> 40) as f64 / f64::from(1u32 << 24) * 2.0 - 1.0) * view.grain;
            }
        }
        let v = |c: f64, n: f64| (c * view.brightness * 255.0 + n).clamp(0.0, 255.0) as u8;
        Rgb([
            v(colour[0], noise[0]),
            v(colour[1], noise[1]),
            v(colour[2], noise[2]),
        ])
    })
}

/// What a camera writes into EXIF.
#[derive(Debug, Clone, Default)]
pub struct Exif {
    /// 1 upright … 8; 6 = the sensor is turned 90° clockwise.
    pub orientation: Option<u16>,
    /// `YYYY:MM:DD HH:MM:SS`, the camera's local time.
    pub taken: Option<String>,
    /// `+08:00`
    pub offset: Option<String>,
    /// (latitude, longitude) in degrees.
    pub gps: Option<(f64, f64)>,
}

fn dms(v: f64) -> Vec<exif::Rational> {
    let v = v.abs();
    let d = v.floor();
    let m = ((v - d) * 60.0).floor();
    let s = ((v - d) * 60.0 - m) * 60.0;
    vec![
        exif::Rational {
            num: d as u32,
            denom: 1,
        },
        exif::Rational {
            num: m as u32,
            denom: 1,
        },
        exif::Rational {
            num: (s * 10_000.0).round() as u32,
            denom: 10_000,
        },
    ]
}

fn ascii(s: &str) -> exif::Value {
    exif::Value::Ascii(vec![s.as_bytes().to_vec()])
}

/// The EXIF block (TIFF structure) for `e`.
pub fn exif_block(e: &Exif) -> Vec<u8> {
    use exif::{Field, In, Tag, Value};
    let field = |tag, value| Field {
        tag,
        ifd_num: In::PRIMARY,
        value,
    };
    let mut fields = Vec::new();
    if let Some(o) = e.orientation {
        fields.push(field(Tag::Orientation, Value::Short(vec![o])));
    }
    if let Some(t) = &e.taken {
        fields.push(field(Tag::DateTimeOriginal, ascii(t)));
    }
    if let Some(o) = &e.offset {
        fields.push(field(Tag::OffsetTimeOriginal, ascii(o)));
    }
    if let Some((lat, lon)) = e.gps {
        fields.push(field(
            Tag::GPSLatitudeRef,
            ascii(if lat < 0.0 { "S" } else { "N" }),
        ));
        fields.push(field(Tag::GPSLatitude, Value::Rational(dms(lat))));
        fields.push(field(
            Tag::GPSLongitudeRef,
            ascii(if lon < 0.0 { "W" } else { "E" }),
        ));
        fields.push(field(Tag::GPSLongitude, Value::Rational(dms(lon))));
    }
    let mut w = exif::experimental::Writer::new();
    for f in &fields {
        w.push_field(f);
    }
    let mut out = Cursor::new(Vec::new());
    w.write(&mut out, false).expect("EXIF block");
    out.into_inner()
}

/// `img` as a JPEG at `quality`, with `exif` in an APP1 segment.
pub fn jpeg(img: &RgbImage, quality: u8, exif: Option<&Exif>) -> Vec<u8> {
    let mut plain = Vec::new();
    JpegEncoder::new_with_quality(&mut plain, quality)
        .encode_image(img)
        .expect("encode JPEG");
    let Some(e) = exif else {
        return plain;
    };
    let block = exif_block(e);
    let len = u16::try_from(2 + 6 + block.len()).expect("EXIF fits a segment");
    let mut out = Vec::with_capacity(plain.len() + block.len() + 10);
    out.extend_from_slice(&plain[..2]);
    out.extend_from_slice(&[0xFF, 0xE1]);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(b"Exif\0\0");
    out.extend_from_slice(&block);
    out.extend_from_slice(&plain[2..]);
    out
}

/// `img` as a PNG.
pub fn png(img: &RgbImage) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png)
        .expect("encode PNG");
    out.into_inner()
}

/// A small JPEG whose header claims 60000×60000 pixels: a decoder that
/// believed it would allocate gigabytes.
pub fn jpeg_bomb() -> Vec<u8> {
    let mut bytes = jpeg(&shelf(1, 64, 64, View::default()), 80, None);
    // The baseline frame header: FF C0, length, precision, height, width.
    let sof = bytes
        .windows(2)
        .position(|w| w == [0xFF, 0xC0])
        .expect("a baseline JPEG has a frame header");
    bytes[sof + 5..sof + 7].copy_from_slice(&60_000u16.to_be_bytes());
    bytes[sof + 7..sof + 9].copy_from_slice(&60_000u16.to_be_bytes());
    bytes
}

/// A PNG of 8000×8000 black pixels: about a megabyte of zlib that
/// inflates to 192 MB.
pub fn png_bomb() -> Vec<u8> {
    use std::io::Write;
    let (w, h) = (8_000u32, 8_000u32);
    let mut raw = zeros_zlib(w, h);
    let mut out = Vec::new();
    out.write_all(b"\x89PNG\r\n\x1a\n").expect("write");
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&w.to_be_bytes());
    ihdr.extend_from_slice(&h.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    chunk(&mut out, b"IHDR", &ihdr);
    chunk(&mut out, b"IDAT", &raw);
    chunk(&mut out, b"IEND", &[]);
    raw.clear();
    out
}

fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&u32::try_from(data.len()).expect("chunk").to_be_bytes());
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let mut crc_input = kind.to_vec();
    crc_input.extend_from_slice(data);
    out.extend_from_slice(&crc32(&crc_input).to_be_bytes());
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in bytes {
        crc ^= u32::from(b);
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

/// A zlib stream of `h` rows of `w` black RGB pixels (each row's filter
/// byte 0), deflated by hand with fixed Huffman codes: one literal 0, then
/// matches of 258 bytes at distance 1.
fn zeros_zlib(w: u32, h: u32) -> Vec<u8> {
    let total = u64::from(h) * (1 + 3 * u64::from(w));
    let mut bits = BitWriter::default();
    bits.push(1, 1); // final block
    bits.push(1, 2); // fixed Huffman (BTYPE=01, LSB first)
    // Literal 0: code 00110000 (8 bits), written MSB first.
    bits.push_code(0b0011_0000, 8);
    let mut left = total - 1;
    while left >= 258 {
        // Length 258: symbol 285, code 11000101 (8 bits), no extra bits.
        bits.push_code(0b1100_0101, 8);
        // Distance 1: code 00000 (5 bits), no extra bits.
        bits.push_code(0, 5);
        left -= 258;
    }
    for _ in 0..left {
        bits.push_code(0b0011_0000, 8);
    }
    // End of block: symbol 256, code 0000000 (7 bits).
    bits.push_code(0, 7);
    let mut out = vec![0x78, 0x01];
    out.extend(bits.finish());
    // Adler-32 of all-zero bytes: a = 1, b = total mod 65521.
    let a = 1u32;
    let b = u32::try_from(total % 65_521).expect("mod");
    out.extend_from_slice(&((b << 16) | a).to_be_bytes());
    out
}

#[derive(Default)]
struct BitWriter {
    out: Vec<u8>,
    acc: u32,
    n: u32,
}

impl BitWriter {
    /// `count` bits of `value`, least significant first.
    fn push(&mut self, value: u32, count: u32) {
        for i in 0..count {
            self.acc |= ((value >> i) & 1) << self.n;
            self.n += 1;
            if self.n == 8 {
                self.out.push(self.acc as u8);
                self.acc = 0;
                self.n = 0;
            }
        }
    }
    /// A Huffman code, most significant bit first.
    fn push_code(&mut self, code: u32, len: u32) {
        for i in (0..len).rev() {
            self.push((code >> i) & 1, 1);
        }
    }
    fn finish(mut self) -> Vec<u8> {
        if self.n > 0 {
            self.out.push(self.acc as u8);
        }
        self.out
    }
}
