//! The processing of one photo file, on files made by code: derivatives,
//! orientation, EXIF, perceptual hash, and the files that cannot be
//! evidence.

use storecheck_server::photos::process::{self, REVIEW_PX, THUMBNAIL_PX};
use storecheck_tests::images::{self, Exif, View};

fn decode(jpeg: &[u8]) -> image::RgbImage {
    image::load_from_memory_with_format(jpeg, image::ImageFormat::Jpeg)
        .expect("a derivative decodes")
        .into_rgb8()
}

fn has_exif(jpeg: &[u8]) -> bool {
    exif::Reader::new()
        .read_from_container(&mut std::io::Cursor::new(jpeg))
        .is_ok()
}

#[test]
fn derivatives_are_upright_jpegs_of_the_right_size_without_metadata() {
    // Landscape pixels, camera turned: EXIF orientation 6 means the
    // picture is upright when turned 90° clockwise.
    let shot = images::shelf(3, 2400, 1800, View::default());
    let e = Exif {
        orientation: Some(6),
        taken: Some("2026:12:03 10:15:00".into()),
        offset: Some("+08:00".into()),
        gps: Some((31.2304, 121.4737)),
    };
    let file = images::jpeg(&shot, 90, Some(&e));
    assert!(has_exif(&file), "the fixture carries EXIF");
    let p = process::process(&file, "image/jpeg").expect("processed");
    assert_eq!((p.width, p.height), (1800, 2400), "upright size");
    assert_eq!(p.orientation, 6);
    let thumb = decode(&p.thumbnail);
    let review = decode(&p.review);
    assert_eq!(thumb.dimensions(), (240, THUMBNAIL_PX));
    assert_eq!(review.dimensions(), (1200, REVIEW_PX));
    assert!(!has_exif(&p.thumbnail) && !has_exif(&p.review));
    for d in [&p.thumbnail, &p.review] {
        assert!(
            !d.windows(4).any(|w| w == b"Exif"),
            "no EXIF segment at all"
        );
    }
    // Turned clockwise: the shelf's top-left corner is now top-right, so
    // the upright review's right column matches the original's top row.
    let original_top = shot.get_pixel(shot.width() / 2, 2);
    let turned = review.get_pixel(review.width() - 2, review.height() / 2);
    let close = original_top
        .0
        .iter()
        .zip(turned.0.iter())
        .all(|(a, b)| a.abs_diff(*b) < 40);
    assert!(close, "{original_top:?} vs {turned:?}");
    let taken = p.taken.expect("time taken");
    assert_eq!(
        taken.resolve(chrono_tz::UTC).expect("instant").to_rfc3339(),
        "2026-12-03T02:15:00+00:00"
    );
    let (lat, lon) = p.gps.expect("gps");
    assert!((lat - 31.2304).abs() < 1e-4 && (lon - 121.4737).abs() < 1e-4);
}

#[test]
fn a_small_photo_is_not_enlarged_and_png_works_too() {
    let shot = images::shelf(4, 300, 200, View::default());
    let p = process::process(&images::png(&shot), "image/png").expect("processed");
    assert_eq!(decode(&p.review).dimensions(), (300, 200));
    assert_eq!(decode(&p.thumbnail).dimensions(), (300, 200));
    assert_eq!(p.taken, None);
    assert_eq!(p.gps, None);
}

#[test]
fn a_resized_recompressed_copy_hashes_close_and_another_shot_of_the_shelf_far() {
    let original = images::shelf(7, 2000, 1500, View::default());
    let a = process::process(&images::jpeg(&original, 92, None), "image/jpeg").expect("a");
    let small = image::imageops::resize(&original, 800, 600, image::imageops::FilterType::Triangle);
    let copy = process::process(&images::jpeg(&small, 55, None), "image/jpeg").expect("copy");
    let copy_distance = process::distance(a.phash, copy.phash);
    assert!(copy_distance <= 3, "a copy differs in {copy_distance} bits");
    // The same shelf from a step to the side and closer, in other light.
    let other_view = View {
        left: 0.12,
        top: 0.05,
        width: 0.8,
        brightness: 0.85,
        grain: 0.0,
    };
    let other = images::shelf(7, 2000, 1500, other_view);
    let b = process::process(&images::jpeg(&other, 92, None), "image/jpeg").expect("b");
    let shot_distance = process::distance(a.phash, b.phash);
    assert!(
        shot_distance > process::MAX_REUSE_DISTANCE,
        "another shot differs in only {shot_distance} bits"
    );
    let elsewhere = images::shelf(8, 2000, 1500, View::default());
    let c = process::process(&images::jpeg(&elsewhere, 92, None), "image/jpeg").expect("c");
    assert!(process::distance(a.phash, c.phash) > 16);
}

#[test]
fn files_that_cannot_be_evidence_say_why() {
    let good = images::jpeg(&images::shelf(5, 640, 480, View::default()), 85, None);
    let cases: Vec<(&str, Vec<u8>, &str, &str)> = vec![
        (
            "text named .jpg",
            b"not a photo at all".to_vec(),
            "image/jpeg",
            "not a JPEG, PNG or WebP",
        ),
        (
            "truncated JPEG",
            good[..good.len() * 3 / 5].to_vec(),
            "image/jpeg",
            "cannot be decoded",
        ),
        (
            "JPEG bomb",
            images::jpeg_bomb(),
            "image/jpeg",
            "larger than",
        ),
        ("PNG bomb", images::png_bomb(), "image/png", "larger than"),
        (
            "PNG listed as JPEG",
            images::png(&images::shelf(5, 64, 64, View::default())),
            "image/jpeg",
            "manifest says image/jpeg",
        ),
        ("empty file", Vec::new(), "image/jpeg", "not a JPEG"),
    ];
    for (what, bytes, declared, why) in cases {
        match process::process(&bytes, declared) {
            Ok(_) => panic!("{what}: processed"),
            Err(process::Invalid(reason)) => {
                assert!(reason.contains(why), "{what}: {reason}");
            }
        }
    }
}

#[test]
fn the_quick_thumbnail_is_the_upright_thumbnail() {
    let shot = images::shelf(6, 1200, 900, View::default());
    let turned = Exif {
        orientation: Some(8),
        ..Exif::default()
    };
    let file = images::jpeg(&shot, 90, Some(&turned));
    let quick = decode(&process::thumbnail(&file).expect("thumbnail"));
    let full = decode(
        &process::process(&file, "image/jpeg")
            .expect("processed")
            .thumbnail,
    );
    assert_eq!(quick.dimensions(), (240, THUMBNAIL_PX));
    assert_eq!(quick.dimensions(), full.dimensions());
    assert!(!has_exif(&process::thumbnail(&file).expect("thumbnail")));
    assert!(process::thumbnail(b"plain text").is_err());
}
