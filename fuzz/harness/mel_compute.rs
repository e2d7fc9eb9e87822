//! Fuzz body for zc-mel's front end: arbitrary samples (any f32 bits: NaN,
//! Inf, subnormals, near-MAX) under every padding mode, both layouts, 80/128
//! mels, each normalisation, and streaming pushes of data-chosen sizes. Each
//! call returns a finite spectrogram of the announced shape or a typed error
//! that leaves the output untouched; the stream equals the offline result
//! bit for bit. Shared by `fuzz/fuzz_targets/mel_compute.rs` and
//! `crates/zc-mel/tests/fuzz_replay.rs`.

use zc_mel::{Layout, MelConfig, MelError, MelSpectrogram, MelStream, Normalization, Padding};

pub fn run(data: &[u8]) {
    if data.len() < 4 {
        return;
    }
    let (head, rest) = data.split_at(4);
    let n_mels = if head[0] & 1 == 0 { 80 } else { 128 };
    let layout = if head[0] & 2 == 0 {
        Layout::MelMajor
    } else {
        Layout::FrameMajor
    };
    let normalization = match (head[0] >> 2) & 3 {
        0 => Normalization::Global,
        1 => Normalization::PerItem,
        _ => Normalization::Fixed(f32::from(head[3]) / 16.0 - 8.0),
    };
    let padding = match head[1] % 3 {
        0 => Padding::None,
        1 => Padding::PadOrTrim(usize::from(head[2]) * 37),
        _ => Padding::Append(usize::from(head[2]) * 29),
    };
    let mut samples: Vec<f32> = rest
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    // head[0] bit 4: tame the samples (most real audio is in [-1, 1]) so the
    // fuzzer also reaches the success paths
    if head[0] & 0x10 != 0 {
        for v in &mut samples {
            *v = if v.is_finite() { v.fract() } else { 0.0 };
        }
    }
    // head[0] bit 5: repeat the data to reach several frames and lanes
    if head[0] & 0x20 != 0 {
        let base = samples.clone();
        while !base.is_empty() && samples.len() < 4000 {
            samples.extend_from_slice(&base);
        }
    }
    let config = MelConfig::whisper(n_mels).padding(padding).normalization(normalization);
    let plan = MelSpectrogram::builder(config.clone())
        .layout(layout)
        .build()
        .expect("whisper configurations are valid");
    let offline = offline(&plan, &samples);
    if let Normalization::Fixed(_) = normalization {
        stream(config, &samples, head[3], offline.as_ref(), layout);
    }
}

/// The offline result (frame-major or mel-major as asked), if it succeeded.
fn offline(plan: &MelSpectrogram, samples: &[f32]) -> Option<Vec<f32>> {
    let shape = match plan.output_shape(samples.len()) {
        Ok(s) => s,
        Err(e) => {
            assert!(matches!(e, MelError::TooShort { .. }), "sizing: {e}");
            let mut out = vec![7.0f32; 16];
            assert!(plan.compute_into_slice(samples, &mut out).is_err());
            return None;
        }
    };
    let mut out = vec![7.0f32; shape.len()];
    match plan.compute_into_slice(samples, &mut out) {
        Ok(got) => {
            assert_eq!(got, shape);
            assert!(out.iter().all(|v| v.is_finite()), "finite output");
            Some(out)
        }
        Err(MelError::NonFiniteSample { index, value }) => {
            assert!(index < samples.len() && !value.is_finite() && !samples[index].is_finite());
            assert!(
                samples[..index].iter().all(|v| v.is_finite()),
                "the first non-finite sample"
            );
            assert!(out.iter().all(|&v| v == 7.0), "untouched on error");
            None
        }
        Err(e) => panic!("unexpected error: {e}"),
    }
}

/// Push the samples in chunks whose sizes come from `seed`; when the offline
/// run succeeded in frame-major order, the stream must equal it exactly.
fn stream(config: MelConfig, samples: &[f32], seed: u8, offline: Option<&Vec<f32>>, layout: Layout) {
    let n_mels = config.n_mels;
    let mut s = MelStream::new(config).expect("Fixed normalisation streams");
    let mut got = Vec::new();
    let mut at = 0usize;
    let mut k = u32::from(seed) | 1;
    let mut failed = false;
    while at < samples.len() {
        k = k.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        let len = (1 + (k >> 16) as usize % 700).min(samples.len() - at);
        let chunk = &samples[at..at + len];
        let mut out = vec![7.0f32; s.frames_for_push(len) * n_mels];
        match s.push_into_slice(chunk, &mut out).map(|f| f.n_frames) {
            Ok(frames) => got.extend_from_slice(&out[..frames * n_mels]),
            Err(MelError::NonFiniteSample { index, .. }) => {
                assert!(!chunk[index].is_finite(), "the index counts from the chunk's start");
                assert!(out.iter().all(|&v| v == 7.0));
                failed = true;
                break;
            }
            Err(e) => panic!("unexpected push error: {e}"),
        }
        at += len;
    }
    if failed {
        assert!(offline.is_none(), "offline accepted what the stream refused");
        return;
    }
    match s.frames_for_finish() {
        Ok(n) => {
            let mut out = vec![7.0f32; n * n_mels];
            let frames = s
                .finish_into_slice(&mut out)
                .map(|f| f.n_frames)
                .expect("finish after frames_for_finish");
            got.extend_from_slice(&out[..frames * n_mels]);
        }
        Err(e) => {
            assert!(matches!(e, MelError::TooShort { .. }), "{e}");
            return;
        }
    }
    if layout == Layout::FrameMajor
        && let Some(off) = offline
    {
        assert_eq!(got.len(), off.len());
        assert!(
            got.iter().zip(off).all(|(a, b)| a.to_bits() == b.to_bits()),
            "stream == offline, bit for bit"
        );
    }
}
