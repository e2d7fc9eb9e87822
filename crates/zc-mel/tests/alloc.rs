//! The steady-state hot paths allocate nothing: checked with zc-buffers'
//! counting global allocator (this file is its own test binary).

mod common;
use common::Relayout;

use ndarray::Array2;
use zc_buffers::testing::{CountingAllocator, count_allocs};
use zc_buffers::{AlignedBuf, Pool};
use zc_mel::{Layout, MelConfig, MelProcessor, MelSpectrogram, MelStream, Normalization, Padding, WavFile};

#[global_allocator]
static ALLOC: CountingAllocator = CountingAllocator::new();

fn signal(n: usize) -> Vec<f32> {
    (0..n)
        .map(|i| ((i as f32) * 0.031).sin() * 0.3 + ((i * 7919 % 113) as f32 - 56.0) * 1e-3)
        .collect()
}

#[test]
fn compute_into_allocates_nothing_after_setup() {
    let audio = signal(16_000);
    let mel = MelSpectrogram::new(MelConfig::whisper(80).padding(Padding::WHISPER_30S)).unwrap();
    let frame_major = mel.lay(Layout::FrameMajor);
    // one scratch serves both plans (same geometry)
    let mut scratch = mel.make_scratch();
    let mut processor = MelProcessor::new(frame_major.clone());
    let pool = Pool::builder().name("mel").build().unwrap();
    let bytes = mel.output_bytes(audio.len()).unwrap();
    let mut pooled = pool.acquire(bytes).unwrap();
    let mut aligned = AlignedBuf::zeroed(bytes).unwrap();
    let mut slice = vec![0f32; bytes / 4];
    let mut array = Array2::<f32>::zeros((80, 3000));
    // a buffer larger than needed (sized for a longer clip) is fine too
    let mut larger = vec![0f32; bytes / 4 + 1000];
    // warm-up run (first use of every path)
    frame_major
        .compute_into_with_scratch(&audio, &mut pooled, &mut scratch)
        .unwrap();

    let (r, stats) = count_allocs(|| {
        frame_major.compute_into_with_scratch(&audio, &mut pooled, &mut scratch)?;
        mel.compute_into_with_scratch(&audio, &mut aligned, &mut scratch)?;
        mel.compute_into_slice_with_scratch(&audio, &mut slice, &mut scratch)?;
        mel.compute_into_slice_with_scratch(&audio, &mut larger, &mut scratch)?;
        processor.compute_into(&audio, &mut pooled)?;
        processor.compute_into_slice(&audio, &mut larger)?;
        mel.compute_into_view_with_scratch(&audio, array.view_mut(), &mut scratch)
    })
    .unwrap();
    r.unwrap();
    assert_eq!(stats.heap_calls(), 0, "{stats:?}");
    assert_eq!(&slice[..], array.as_slice().unwrap());
    assert_eq!(
        &larger[..slice.len()],
        &{
            let mut fm = vec![0f32; slice.len()];
            frame_major.compute_into_slice(&audio, &mut fm).unwrap();
            fm
        }[..]
    );
}

#[test]
fn wav_view_and_decode_allocate_nothing() {
    let wav = WavFile::open(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/speech_16k.wav")).unwrap();
    let mut out = AlignedBuf::zeroed(wav.info().decoded_bytes()).unwrap();
    let (n, stats) = count_allocs(|| wav.decode_into(&mut out)).unwrap();
    assert_eq!(n.unwrap(), 122_931);
    assert_eq!(stats.heap_calls(), 0, "{stats:?}");
}

#[test]
fn stream_push_and_finish_allocate_nothing() {
    let audio = signal(48_000);
    let cfg = MelConfig::whisper(80)
        .padding(Padding::Append(16_000))
        .normalization(Normalization::Fixed(0.0));
    let mut stream = MelStream::new(cfg).unwrap();
    let mut out = vec![0f32; 80 * 500];
    let (r, stats) = count_allocs(|| -> zc_mel::Result<usize> {
        let mut frames = 0;
        for chunk in audio.chunks(97) {
            frames += stream.push_into_slice(chunk, &mut out).map(|f| f.n_frames)?;
        }
        Ok(frames + stream.finish_into_slice(&mut out).map(|f| f.n_frames)?)
    })
    .unwrap();
    assert_eq!(r.unwrap(), (48_000 + 16_000) / 160);
    assert_eq!(stats.heap_calls(), 0, "{stats:?}");
}

#[test]
fn batch_allocates_nothing_single_threaded() {
    let a = signal(20_000);
    let b = signal(9_000);
    let mel = MelSpectrogram::builder(MelConfig::whisper(80).normalization(Normalization::PerItem))
        .layout(Layout::FrameMajor)
        .build()
        .unwrap();
    let mut scratch = mel.make_scratch();
    let mut oa = vec![0f32; 80 * 125];
    let mut ob = vec![0f32; 80 * 56];
    let clips: [&[f32]; 2] = [&a, &b];
    let (r, stats) = count_allocs(|| {
        let mut outs: [&mut [f32]; 2] = [&mut oa, &mut ob];
        mel.compute_batch_into_slices(&clips, &mut outs, &mut scratch)
    })
    .unwrap();
    r.unwrap();
    assert_eq!(stats.heap_calls(), 0, "{stats:?}");
}
