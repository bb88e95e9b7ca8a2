//! Distribution shifts on the GPU (shaders/shift.wgsl, src/data/shift.rs) against a CPU reference
//! written from their definitions: rotation (bilinear, black outside), blur (Gaussian window,
//! black outside), contrast about mid-grey, and Gaussian noise by its statistics. Then
//! `Trainer::evaluate_shifted`: the identity shifts give the plain evaluation, the originals are
//! back afterwards, and a real shift costs accuracy.
#![cfg(not(target_arch = "wasm32"))]

mod common;

use samlab::data::{Dataset, GpuSplit, Shift, Split};
use samlab::train::{TrainConfig, Trainer};

const SIDE: usize = 12;

/// Images with structure (a bright blob at a per-sample place on a gradient), so that rotation
/// and blur move real mass around, plus a few saturated pixels.
fn images(count: usize) -> Split {
    let mut pixels = Vec::with_capacity(count * SIDE * SIDE);
    for n in 0..count {
        let (cy, cx) = (3.0 + (n % 5) as f64, 2.0 + (n % 7) as f64);
        for y in 0..SIDE {
            for x in 0..SIDE {
                let d2 = (y as f64 - cy).powi(2) + (x as f64 - cx).powi(2);
                let v = 200.0 * (-d2 / 6.0).exp()
                    + 3.0 * x as f64
                    + if (x + y + n) % 17 == 0 { 255.0 } else { 0.0 };
                pixels.push(v.min(255.0) as u8);
            }
        }
    }
    Split {
        labels: (0..count).map(|n| (n % 10) as u8).collect(),
        count,
        features: SIDE * SIDE,
        pixels,
    }
}

fn value(split: &Split, n: usize, y: i64, x: i64) -> f64 {
    if y < 0 || x < 0 || y >= SIDE as i64 || x >= SIDE as i64 {
        return 0.0;
    }
    split.pixels[n * SIDE * SIDE + y as usize * SIDE + x as usize] as f64 / 255.0
}

fn to_byte(v: f64) -> u8 {
    (v.clamp(0.0, 1.0) * 255.0).round_ties_even() as u8
}

fn reference(split: &Split, shift: Shift) -> Vec<u8> {
    let mut out = Vec::with_capacity(split.pixels.len());
    let c = (SIDE as f64 - 1.0) / 2.0;
    for n in 0..split.count {
        for y in 0..SIDE as i64 {
            for x in 0..SIDE as i64 {
                let v = match shift {
                    Shift::Rotate(degrees) => {
                        let (sin, cos) = degrees.to_radians().sin_cos();
                        let (dx, dy) = (x as f64 - c, y as f64 - c);
                        let sx = cos * dx - sin * dy + c;
                        let sy = sin * dx + cos * dy + c;
                        let (x0, y0) = (sx.floor(), sy.floor());
                        let (fx, fy) = (sx - x0, sy - y0);
                        let (ix, iy) = (x0 as i64, y0 as i64);
                        let top =
                            value(split, n, iy, ix) * (1.0 - fx) + value(split, n, iy, ix + 1) * fx;
                        let bottom = value(split, n, iy + 1, ix) * (1.0 - fx)
                            + value(split, n, iy + 1, ix + 1) * fx;
                        top * (1.0 - fy) + bottom * fy
                    }
                    Shift::Blur(sigma) => {
                        let r = (3.0 * sigma).ceil() as i64;
                        let (mut total, mut weights) = (0.0, 0.0);
                        for dy in -r..=r {
                            for dx in -r..=r {
                                let w =
                                    (-((dx * dx + dy * dy) as f64) / (2.0 * sigma * sigma)).exp();
                                total += w * value(split, n, y + dy, x + dx);
                                weights += w;
                            }
                        }
                        total / weights
                    }
                    Shift::Contrast(k) => (value(split, n, y, x) - 0.5) * k + 0.5,
                    Shift::Noise { .. } => unreachable!("noise is checked by its statistics"),
                };
                out.push(to_byte(v));
            }
        }
    }
    out
}

fn shifted(gpu_split: &mut GpuSplit, shift: Option<Shift>) -> Vec<u8> {
    gpu_split
        .shift(shift, [1, SIDE, SIDE])
        .expect("valid shift");
    common::block_on(gpu_split.read_pixels()).expect("read back")
}

#[test]
fn rotation_blur_and_contrast_match_the_cpu_reference() {
    let gpu = common::gpu();
    let split = images(37); // 37 × 144 bytes: the last word is partial
    let mut gpu_split = GpuSplit::upload(&gpu, &split, &split.labels).unwrap();
    for shift in [
        Shift::Rotate(0.0),
        Shift::Rotate(30.0),
        Shift::Rotate(-90.0),
        Shift::Rotate(45.0),
        Shift::Blur(0.5),
        Shift::Blur(1.5),
        Shift::Contrast(0.3),
        Shift::Contrast(1.0),
        Shift::Contrast(2.5),
    ] {
        let got = shifted(&mut gpu_split, Some(shift));
        let want = reference(&split, shift);
        assert_eq!(got.len(), want.len());
        // f32 on the GPU against f64 here: a pixel may round to the next byte.
        let worst = got
            .iter()
            .zip(&want)
            .map(|(&g, &w)| (g as i32 - w as i32).abs())
            .max()
            .unwrap();
        assert!(worst <= 1, "{shift:?}: off by {worst}");
        let changed = got
            .iter()
            .zip(&split.pixels)
            .filter(|(g, o)| g != o)
            .count();
        if matches!(shift, Shift::Rotate(0.0) | Shift::Contrast(1.0)) {
            assert_eq!(changed, 0, "{shift:?} is the identity");
        } else {
            assert!(
                changed > got.len() / 4,
                "{shift:?} changed only {changed} of {} pixels",
                got.len()
            );
        }
    }
    // Shifts start from the originals every time, and None puts them back.
    assert_eq!(shifted(&mut gpu_split, None), split.pixels);
    let once = shifted(&mut gpu_split, Some(Shift::Rotate(30.0)));
    assert_eq!(
        shifted(&mut gpu_split, Some(Shift::Rotate(30.0))),
        once,
        "not compounded"
    );
    assert_eq!(shifted(&mut gpu_split, None), split.pixels);
}

#[test]
fn noise_has_its_standard_deviation_and_is_seeded() {
    let gpu = common::gpu();
    let split = Split {
        pixels: vec![128; 200 * 64],
        labels: vec![0; 200],
        count: 200,
        features: 64,
    };
    let mut gpu_split = GpuSplit::upload(&gpu, &split, &split.labels).unwrap();
    let mut noise = |sigma, seed| {
        gpu_split
            .shift(Some(Shift::Noise { sigma, seed }), [1, 8, 8])
            .unwrap();
        common::block_on(gpu_split.read_pixels()).unwrap()
    };
    let a = noise(0.1, 1);
    let diffs: Vec<f64> = a.iter().map(|&v| (v as f64 - 128.0) / 255.0).collect();
    let n = diffs.len() as f64;
    let mean = diffs.iter().sum::<f64>() / n;
    let sd = (diffs.iter().map(|d| (d - mean).powi(2)).sum::<f64>() / n).sqrt();
    assert!(mean.abs() < 0.003, "mean {mean}");
    assert!(
        (sd - 0.1).abs() < 0.005,
        "sd {sd} (σ 0.1, plus rounding to bytes)"
    );
    assert_eq!(noise(0.1, 1), a, "the same seed draws the same noise");
    assert_ne!(noise(0.1, 2), a, "another seed other noise");
}

#[test]
fn bad_shifts_are_refused_with_their_reason() {
    for (text, words) in [
        ("rotate", "unknown shift"),
        ("spin:30", "unknown shift"),
        ("blur:0", "blur σ must be above 0"),
        ("blur:9", "at most 2.67"),
        ("noise:-1", "noise σ must be"),
        ("contrast:nan", "contrast must be"),
        ("rotate:inf", "rotation must be a finite angle"),
    ] {
        let err = Shift::parse(text).unwrap_err();
        assert!(err.contains(words), "{text}: {err}");
    }
    assert_eq!(Shift::parse("rotate:30").unwrap(), Shift::Rotate(30.0));
}

#[test]
fn evaluating_shifted_test_images() {
    let gpu = common::gpu();
    let train = images(400);
    let test = images(100);
    let data = Dataset::new("blobs", train, test, 10, [1, SIDE, SIDE]);
    let config = TrainConfig {
        hidden: vec![32],
        epochs: 3,
        batch_size: 50,
        ..TrainConfig::default()
    };
    let mut trainer = Trainer::new(&gpu, config, &data, None).unwrap();
    while trainer.step < trainer.total_steps() {
        trainer.step();
    }
    common::block_on(async {
        let plain = trainer.evaluate().await.unwrap();
        for identity in [
            Shift::Rotate(0.0),
            Shift::Contrast(1.0),
            Shift::Noise {
                sigma: 0.0,
                seed: 3,
            },
        ] {
            let same = trainer.evaluate_shifted(identity).await.unwrap();
            assert_eq!(
                (same.loss, same.accuracy),
                (plain.loss, plain.accuracy),
                "{identity:?}"
            );
        }
        let rotated = trainer.evaluate_shifted(Shift::Rotate(90.0)).await.unwrap();
        assert_ne!(
            rotated.loss, plain.loss,
            "a rotation changes what the model sees"
        );
        let again = trainer.evaluate().await.unwrap();
        assert_eq!(
            (again.loss, again.accuracy),
            (plain.loss, plain.accuracy),
            "the originals are back"
        );
    });
}

#[test]
fn a_runs_own_test_shift_applies_to_every_evaluation_until_cleared() {
    let gpu = common::gpu();
    let data = Dataset::new("blobs", images(400), images(100), 10, [1, SIDE, SIDE]);
    let config = TrainConfig {
        hidden: vec![32],
        epochs: 2,
        batch_size: 50,
        ..TrainConfig::default()
    };
    let mut trainer = Trainer::new(&gpu, config, &data, None).unwrap();
    while trainer.step < trainer.total_steps() {
        trainer.step();
    }
    let test = images(100);
    let mut direct = GpuSplit::upload(&gpu, &test, &test.labels).unwrap();
    let expected_pixels = shifted(&mut direct, Some(Shift::Rotate(90.0)));
    common::block_on(async {
        let plain = trainer.evaluate().await.unwrap();
        let rotated = trainer.evaluate_shifted(Shift::Rotate(90.0)).await.unwrap();
        let blurred = trainer.evaluate_shifted(Shift::Blur(1.5)).await.unwrap();

        trainer.set_test_shift(Some(Shift::Rotate(90.0))).unwrap();
        let own = trainer.evaluate().await.unwrap();
        assert_eq!((own.loss, own.accuracy), (rotated.loss, rotated.accuracy));
        // The images a page shows are the rotated ones.
        let (view, bytes) = trainer.test_pixels();
        let pixels = samlab::data::read_pixel_bytes(&gpu, &view, bytes)
            .await
            .unwrap();
        assert_eq!(pixels, expected_pixels);
        // Another shift for one evaluation puts the run's own back, not the originals.
        let other = trainer.evaluate_shifted(Shift::Blur(1.5)).await.unwrap();
        assert_eq!(
            (other.loss, other.accuracy),
            (blurred.loss, blurred.accuracy)
        );
        let still = trainer.evaluate().await.unwrap();
        assert_eq!(
            (still.loss, still.accuracy),
            (rotated.loss, rotated.accuracy)
        );

        trainer.set_test_shift(None).unwrap();
        let back = trainer.evaluate().await.unwrap();
        assert_eq!((back.loss, back.accuracy), (plain.loss, plain.accuracy));
    });
}
