//! Frames that are entirely zero in the caller's own samples skip the FFT
//! like virtual padding — with exactly the same output.
//!
//! The reference replaces every zero by a value so small (1e-30) that no
//! frame is all zero any more (nothing is skipped) while its power stays
//! below Whisper's 1e-10 floor and every sum it enters is unchanged in
//! `f32`: the two inputs must give bit-identical spectrograms.

mod common;

use proptest::prelude::*;
use zc_buffers::SimdLevel;
use zc_mel::{Layout, MelConfig, MelSpectrogram, Padding};

fn levels() -> impl Iterator<Item = SimdLevel> {
    [SimdLevel::Portable, SimdLevel::Avx2, SimdLevel::Avx512]
        .into_iter()
        .filter(|l| l.is_available())
}

fn compute(config: MelConfig, level: SimdLevel, layout: Layout, threads: usize, x: &[f32]) -> Vec<f32> {
    let mel = MelSpectrogram::builder(config)
        .simd(level)
        .layout(layout)
        .threads(threads)
        .build()
        .expect("plan");
    let mut out = vec![f32::NAN; mel.output_len(x.len()).expect("shape")];
    mel.compute_into_slice(x, &mut out).expect("compute");
    out
}

/// `x` with every `±0.0` replaced by a tiny non-zero value.
fn tiny_for_zeros(x: &[f32]) -> Vec<f32> {
    x.iter().map(|&v| if v == 0.0 { 1e-30 } else { v }).collect()
}

fn same_bits(a: &[f32], b: &[f32]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits())
}

#[test]
fn explicit_trailing_zeros_equal_virtual_padding() {
    let five = common::noise(5 * 16_000, 7, 0.3);
    let mut thirty = five.clone();
    thirty.resize(30 * 16_000, 0.0);
    for level in levels() {
        for layout in [Layout::MelMajor, Layout::FrameMajor] {
            for threads in [1, 2] {
                let padded = compute(
                    MelConfig::whisper(80).padding(Padding::WHISPER_30S),
                    level,
                    layout,
                    threads,
                    &five,
                );
                let explicit = compute(MelConfig::whisper(80), level, layout, threads, &thirty);
                let reference = compute(MelConfig::whisper(80), level, layout, threads, &tiny_for_zeros(&thirty));
                assert!(same_bits(&padded, &explicit), "{level} {layout:?} {threads} threads");
                assert!(same_bits(&reference, &explicit), "{level} {layout:?} {threads} threads");
            }
        }
    }
}

#[test]
fn leading_interior_and_negative_zeros_are_skipped_exactly() {
    let mut x = common::noise(8 * 16_000, 3, 0.2);
    x[..20_000].fill(0.0); // leading silence (the first frames reflect into it)
    x[40_000..61_000].fill(-0.0); // an interior run of negative zeros
    x[90_000..90_399].fill(0.0); // one sample short of a whole frame: never skipped
    x[100_000..].fill(0.0); // trailing silence
    for level in levels() {
        for n_mels in [80, 128] {
            let got = compute(MelConfig::whisper(n_mels), level, Layout::MelMajor, 1, &x);
            let reference = compute(
                MelConfig::whisper(n_mels),
                level,
                Layout::MelMajor,
                1,
                &tiny_for_zeros(&x),
            );
            assert!(same_bits(&got, &reference), "{level}, {n_mels} mels");
        }
    }
}

#[test]
fn an_all_zero_clip_is_the_floor_everywhere() {
    let x = vec![0f32; 3 * 16_000];
    for level in levels() {
        let got = compute(MelConfig::whisper(80), level, Layout::MelMajor, 1, &x);
        let reference = compute(MelConfig::whisper(80), level, Layout::MelMajor, 1, &tiny_for_zeros(&x));
        assert!(same_bits(&got, &reference), "{level}");
        assert!(got.iter().all(|v| v.to_bits() == got[0].to_bits()));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// Random clips with random runs of zeros (any length, any place,
    /// either sign) give exactly the output of the same clip with no zero.
    #[test]
    fn zero_runs_anywhere(
        len in 400usize..40_000,
        seed in 0u64..1000,
        runs in proptest::collection::vec((0.0f64..1.0, 0usize..6_000, any::<bool>()), 0..6),
        n_mels in prop_oneof![Just(80usize), Just(128)],
    ) {
        let mut x = common::noise(len, seed, 0.25);
        for (at, n, negative) in runs {
            let start = (at * len as f64) as usize;
            let end = (start + n).min(len);
            x[start..end].fill(if negative { -0.0 } else { 0.0 });
        }
        for level in levels() {
            let got = compute(MelConfig::whisper(n_mels), level, Layout::FrameMajor, 1, &x);
            let reference = compute(MelConfig::whisper(n_mels), level, Layout::FrameMajor, 1, &tiny_for_zeros(&x));
            prop_assert!(same_bits(&got, &reference), "{}", level);
        }
    }
}
