//! Fuzz body for zc-mel's WAV reader: any file bytes give a typed error or a
//! file whose every sample decodes (and resamples to 16 kHz from its own
//! rate) without a panic; sizes stay inside the file. Shared by
//! `fuzz/fuzz_targets/wav.rs` and `crates/zc-mel/tests/fuzz_replay.rs`.

use std::sync::atomic::{AtomicUsize, Ordering};

use zc_mel::{MelError, SampleFormat, WavFile};

/// Files with more samples than this are opened and checked, not decoded.
const DECODE_MAX_SAMPLES: usize = 1 << 18;

pub fn run(data: &[u8]) {
    static SEQ: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!("zc-fuzz-wav-{}", std::process::id()));
    if std::fs::create_dir_all(&dir).is_err() {
        return;
    }
    let path = dir.join(format!("{}.wav", SEQ.fetch_add(1, Ordering::Relaxed)));
    if std::fs::write(&path, data).is_err() {
        return;
    }
    check(&path, data.len());
    let _ = std::fs::remove_file(&path);
}

fn check(path: &std::path::Path, file_len: usize) {
    let wav = match WavFile::open(path) {
        Ok(w) => w,
        Err(e) => {
            // typed, and it names the file where the file is at fault
            let _ = e.to_string();
            return;
        }
    };
    let info = wav.info().clone();
    let end = info
        .data_offset
        .checked_add(info.data_len)
        .expect("data range fits u64");
    assert!(
        end <= file_len as u64,
        "data {}..{end} beyond the {file_len}-byte file",
        info.data_offset
    );
    assert_eq!(info.data_len % info.frame_bytes() as u64, 0, "whole frames only");
    assert_eq!(wav.data_bytes().len() as u64, info.data_len);
    let n = info.num_samples();
    if n > DECODE_MAX_SAMPLES {
        return;
    }
    let mut out = vec![0.0f32; n];
    assert_eq!(wav.decode_into_slice(&mut out).expect("a parsed file decodes"), n);
    if !matches!(info.format, SampleFormat::F32 | SampleFormat::F64) {
        assert!(
            out.iter().all(|v| v.is_finite() && v.abs() <= 1.0),
            "integer PCM decodes into [-1, 1]"
        );
    }
    // a larger output gets the same samples in its prefix, the rest untouched
    let mut long = vec![7.0f32; n + 1];
    assert_eq!(wav.decode_into_slice(&mut long).expect("a larger output is fine"), n);
    assert!(long[..n].iter().zip(&out).all(|(a, b)| a.to_bits() == b.to_bits()));
    assert_eq!(long[n], 7.0);
    // a too small one is refused, untouched
    if n > 0 {
        let mut short = vec![7.0f32; n - 1];
        assert!(matches!(
            wav.decode_into_slice(&mut short),
            Err(MelError::Buffer(zc_buffers::BufferError::OutputTooSmall { .. }))
        ));
        assert!(short.iter().all(|&v| v == 7.0));
    }
    // resampled to 16 kHz from the file's own rate (when the rate is one
    // a resampler accepts and the output is small)
    let m = info.num_samples_at(16_000);
    if m == 0 || m > DECODE_MAX_SAMPLES {
        return;
    }
    let Ok(mut r) = zc_mel::Resampler::new(info.sample_rate) else {
        return;
    };
    let mut out16 = vec![7.0f32; m];
    match wav.decode_resampled_into_with(&mut r, &mut out16) {
        Ok(k) => {
            assert_eq!(k, m);
            assert!(out16.iter().all(|v| v.is_finite()), "finite in, finite out");
        }
        Err(MelError::NonFiniteSample { index, value }) => {
            assert!(!value.is_finite() && index < n);
            assert!(out16.iter().all(|&v| v == 7.0), "untouched on error");
        }
        Err(e) => panic!("unexpected error on a parsed file: {e}"),
    }
}
