//! WAV loading without needless copies.

use std::path::{Path, PathBuf};

use zc_buffers::ledger::{self, CopyKind};
use zc_buffers::{
    Advice, AlignedBuf, HostBuffer, HostBufferExt, HostBufferMut, HostBufferMutExt, MmapBuf, MmapOptions,
};

use crate::config::SAMPLE_RATE;
use crate::error::{MelError, Result};

const WAVE_FORMAT_PCM: u16 = 0x0001;
const WAVE_FORMAT_IEEE_FLOAT: u16 = 0x0003;
const WAVE_FORMAT_EXTENSIBLE: u16 = 0xFFFE;

/// Sample encoding of a WAV data chunk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SampleFormat {
    /// Unsigned 8-bit PCM (offset 128).
    U8,
    /// Signed 16-bit PCM.
    I16,
    /// Signed 24-bit PCM (packed, 3 bytes).
    I24,
    /// Signed 32-bit PCM.
    I32,
    /// IEEE 32-bit float.
    F32,
    /// IEEE 64-bit float.
    F64,
}

impl SampleFormat {
    /// Bytes per sample.
    pub fn bytes(self) -> usize {
        match self {
            SampleFormat::U8 => 1,
            SampleFormat::I16 => 2,
            SampleFormat::I24 => 3,
            SampleFormat::I32 | SampleFormat::F32 => 4,
            SampleFormat::F64 => 8,
        }
    }
}

/// What a WAV header says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WavInfo {
    /// Sample rate in Hz.
    pub sample_rate: u32,
    /// Interleaved channels.
    pub channels: u16,
    /// Sample encoding.
    pub format: SampleFormat,
    /// File offset of the first sample byte.
    pub data_offset: u64,
    /// Bytes of sample data.
    pub data_len: u64,
}

impl WavInfo {
    /// Bytes per sample frame (one sample of every channel).
    pub fn frame_bytes(&self) -> usize {
        self.format.bytes() * usize::from(self.channels)
    }

    /// Mono samples after downmixing (= sample frames): what
    /// [`WavFile::decode_into`] writes, as `f32`.
    pub fn num_samples(&self) -> usize {
        (self.data_len / self.frame_bytes() as u64) as usize
    }

    /// Bytes of `f32` output [`WavFile::decode_into`] needs.
    pub fn decoded_bytes(&self) -> usize {
        self.num_samples() * 4
    }

    /// Duration in seconds.
    pub fn duration_secs(&self) -> f64 {
        self.num_samples() as f64 / f64::from(self.sample_rate)
    }

    /// Mono samples at `rate` Hz: `round(num_samples · rate / sample_rate)`
    /// (see [`crate::resample::resampled_len`]).
    #[cfg(feature = "resample")]
    pub fn num_samples_at(&self, rate: u32) -> usize {
        crate::resample::resampled_len(self.num_samples(), self.sample_rate, rate)
    }

    /// Bytes of `f32` output [`WavFile::decode_resampled_into`] needs
    /// (`num_samples_at(16_000) * 4`).
    #[cfg(feature = "resample")]
    pub fn resampled_bytes(&self) -> usize {
        self.num_samples_at(SAMPLE_RATE) * 4
    }

    /// True when the data can be viewed in place as mono `f32`.
    pub fn is_mono_f32(&self) -> bool {
        self.format == SampleFormat::F32 && self.channels == 1
    }
}

/// A mapped, parsed WAV file.
///
/// [`WavFile::open`] maps the file ([`MmapBuf`]) and parses its RIFF chunks
/// in place. Then either
/// * [`WavFile::samples_f32`] — mono 32-bit float data whose data chunk
///   starts at a 4-byte-aligned file offset is viewed **in place** as
///   `&[f32]` (zero copy, nothing recorded in the ledger). The canonical
///   44-byte header puts the data at byte 44 (aligned); a file with extra
///   chunks may not: sox writes an 18-byte `fmt ` and a `fact` chunk, so its
///   float data lands at byte 58 — no in-place view
///   ([`MelError::NotZeroCopy`]), and [`WavFile::samples`] makes one
///   realign copy. Check [`WavInfo::data_offset`]` % 4 == 0`.
/// * [`WavFile::decode_into`] — any supported format (8/16/24/32-bit PCM,
///   32/64-bit float, any channel count, averaged to mono) is decoded once,
///   straight from the mapping into a caller-provided buffer sized from
///   [`WavInfo::num_samples`]. Recorded as one [`CopyKind::Convert`] of the
///   bytes written (a plain copy of mono f32 data is recorded as
///   [`CopyKind::Other`]).
/// * [`WavFile::samples`] picks the first where possible and falls back to
///   the second (into a fresh [`AlignedBuf`]); a mono f32 payload at an
///   offset that is not 4-byte aligned is copied as [`CopyKind::Realign`].
///
/// [`WavFile::expect_sample_rate`] rejects other rates. With the `resample`
/// feature (default), [`WavFile::decode_resampled_into`] decodes any rate and
/// resamples it to 16 kHz (see [`Resampler`](crate::Resampler)).
#[derive(Debug)]
pub struct WavFile {
    map: MmapBuf,
    info: WavInfo,
}

/// The size a writer leaves in a chunk header when it cannot seek back to
/// fill it in (streaming to a pipe), and the placeholder RF64 uses.
const STREAMED_SIZE: u64 = 0xFFFF_FFFF;

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}
fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// Parse the RIFF/WAVE chunk structure of `bytes` (the whole file).
fn parse(bytes: &[u8], path: &Path) -> Result<WavInfo> {
    let invalid = |reason, offset: usize| MelError::InvalidWav {
        path: path.to_path_buf(),
        reason,
        offset: offset as u64,
    };
    if bytes.len() < 12 || !(&bytes[0..4] == b"RIFF" || &bytes[0..4] == b"RF64") || &bytes[8..12] != b"WAVE" {
        return Err(invalid("missing RIFF/WAVE (or RF64/WAVE) header", 0));
    }
    // RF64 (EBU Tech 3306): a `ds64` chunk right after the header holds the
    // 64-bit sizes; the data chunk's own 32-bit size is then 0xFFFFFFFF.
    let rf64_data_len = if &bytes[0..4] == b"RF64" {
        if bytes.len() < 12 + 8 + 24 || &bytes[12..16] != b"ds64" || u32_at(bytes, 16) < 24 {
            return Err(invalid("RF64 file without a ds64 chunk of at least 24 bytes", 12));
        }
        Some(u64::from(u32_at(bytes, 20 + 8)) | (u64::from(u32_at(bytes, 20 + 12)) << 32))
    } else {
        None
    };
    let mut pos = 12usize;
    let mut fmt: Option<(u16, u16, u32, u16, u16, usize)> = None;
    let mut data: Option<(usize, u64)> = None;
    while pos.saturating_add(8) <= bytes.len() && (fmt.is_none() || data.is_none()) {
        let id = &bytes[pos..pos + 4];
        let size = u64::from(u32_at(bytes, pos + 4));
        let body = pos + 8;
        if id == b"fmt " {
            if size < 16 || body as u64 + size > bytes.len() as u64 {
                return Err(invalid("fmt chunk is shorter than 16 bytes or truncated", pos));
            }
            let mut tag = u16_at(bytes, body);
            let channels = u16_at(bytes, body + 2);
            let rate = u32_at(bytes, body + 4);
            let block_align = u16_at(bytes, body + 12);
            let bits = u16_at(bytes, body + 14);
            if tag == WAVE_FORMAT_EXTENSIBLE {
                if size < 26 {
                    return Err(invalid("WAVE_FORMAT_EXTENSIBLE fmt chunk too short", pos));
                }
                tag = u16_at(bytes, body + 24);
            }
            fmt = Some((tag, channels, rate, bits, block_align, body + 12));
        } else if id == b"data" {
            let size = match (size, rf64_data_len) {
                (STREAMED_SIZE, Some(len)) => len,
                _ => size,
            };
            data = Some((body, size));
            if fmt.is_some() {
                break;
            }
        }
        // chunks are padded to even sizes
        let next = (body as u64).saturating_add(size).saturating_add(size & 1);
        pos = usize::try_from(next).unwrap_or(usize::MAX); // ok: saturates; loop ends
    }
    let (tag, channels, sample_rate, bits, block_align, align_at) = fmt.ok_or_else(|| invalid("no fmt chunk", 12))?;
    let (offset, mut declared) = data.ok_or_else(|| invalid("no data chunk", 12))?;
    let format = match (tag, bits) {
        (WAVE_FORMAT_PCM, 8) => SampleFormat::U8,
        (WAVE_FORMAT_PCM, 16) => SampleFormat::I16,
        (WAVE_FORMAT_PCM, 24) => SampleFormat::I24,
        (WAVE_FORMAT_PCM, 32) => SampleFormat::I32,
        (WAVE_FORMAT_IEEE_FLOAT, 32) => SampleFormat::F32,
        (WAVE_FORMAT_IEEE_FLOAT, 64) => SampleFormat::F64,
        _ => {
            return Err(MelError::UnsupportedFormat {
                path: path.to_path_buf(),
                format_tag: tag,
                bits_per_sample: bits,
            });
        }
    };
    if channels == 0 {
        return Err(invalid("zero channels", 12));
    }
    if sample_rate == 0 {
        return Err(invalid("zero sample rate", 12));
    }
    let available = (bytes.len() - offset.min(bytes.len())) as u64;
    let frame_bytes = u64::from(channels) * format.bytes() as u64;
    // block_align is what a reader steps by; a file that disagrees with its
    // own channels × sample size cannot be decoded as it says.
    if u64::from(block_align) != frame_bytes {
        return Err(invalid(
            "block_align differs from channels x bytes per sample",
            align_at,
        ));
    }
    if declared == STREAMED_SIZE && rf64_data_len.is_none() {
        // Written to a pipe (ffmpeg, sox): the size was never filled in.
        // Read to the end of the file, whole frames only.
        declared = available - available % frame_bytes;
    }
    if declared > available {
        return Err(MelError::Truncated {
            path: path.to_path_buf(),
            offset: offset as u64,
            declared,
            available,
        });
    }
    let info = WavInfo {
        sample_rate,
        channels,
        format,
        data_offset: offset as u64,
        data_len: declared,
    };
    if declared % frame_bytes != 0 {
        return Err(MelError::RaggedData {
            path: path.to_path_buf(),
            data_len: declared,
            frame_bytes,
        });
    }
    Ok(info)
}

impl WavFile {
    /// Map `path` and parse its header. Nothing is decoded or copied.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let map = MmapOptions::new().advice(Advice::Sequential).open(path)?;
        let info = parse(map.as_bytes(), path)?;
        Ok(Self { map, info })
    }

    /// The parsed header.
    pub fn info(&self) -> &WavInfo {
        &self.info
    }

    /// The file path.
    pub fn path(&self) -> &Path {
        self.map.path()
    }

    /// Fail with [`MelError::SampleRate`] unless the file is at `rate` Hz.
    pub fn expect_sample_rate(self, rate: u32) -> Result<Self> {
        if self.info.sample_rate != rate {
            return Err(MelError::SampleRate {
                path: self.path_buf(),
                expected: rate,
                actual: self.info.sample_rate,
            });
        }
        Ok(self)
    }

    fn path_buf(&self) -> PathBuf {
        self.map.path().to_path_buf()
    }

    /// The raw sample bytes, in place in the mapping.
    pub fn data_bytes(&self) -> &[u8] {
        let start = self.info.data_offset as usize;
        &self.map.as_bytes()[start..start + self.info.data_len as usize]
    }

    /// The samples of a mono 32-bit float WAV, viewed in place (zero copy).
    /// Fails with [`MelError::NotZeroCopy`] for any other format or for a
    /// payload that is not 4-byte aligned in the file.
    pub fn samples_f32(&self) -> Result<&[f32]> {
        let reason = if self.info.format != SampleFormat::F32 {
            "samples are not 32-bit float"
        } else if self.info.channels != 1 {
            "more than one channel"
        } else {
            return zc_buffers::cast_slice::<f32>(self.data_bytes()).map_err(|_| MelError::NotZeroCopy {
                path: self.path_buf(),
                reason: "the data chunk is not 4-byte aligned",
            });
        };
        Err(MelError::NotZeroCopy {
            path: self.path_buf(),
            reason,
        })
    }

    /// Decode every sample, averaged over channels, as `f32` in `[-1, 1)`
    /// (integer PCM scaled by 2^-(bits-1)) into the prefix of `out`, which
    /// must hold at least [`WavInfo::decoded_bytes`] bytes of 4-byte-aligned
    /// memory (less is `OutputTooSmall`, nothing written). Returns the
    /// number of samples written. Allocates nothing.
    pub fn decode_into<B: HostBufferMut + ?Sized>(&self, out: &mut B) -> Result<usize> {
        self.decode_into_slice(out.as_slice_mut::<f32>()?)
    }

    /// [`decode_into`](Self::decode_into) for an `f32` slice of at least
    /// [`WavInfo::num_samples`] values (a prefix is written).
    pub fn decode_into_slice(&self, out: &mut [f32]) -> Result<usize> {
        let n = self.info.num_samples();
        let out = zc_buffers::output_prefix(out, n)?;
        let data = self.data_bytes();
        let ch = usize::from(self.info.channels);
        let bps = self.info.format.bytes();
        let kind = if self.info.is_mono_f32() {
            CopyKind::Other
        } else {
            CopyKind::Convert
        };
        match self.info.format {
            SampleFormat::U8 => decode(data, out, ch, bps, |b| (f64::from(b[0]) - 128.0) / 128.0),
            // exact in f32 (a 16-bit integer times a power of two), so no f64 detour
            SampleFormat::I16 if ch == 1 => {
                for (o, b) in out.iter_mut().zip(data.chunks_exact(2)) {
                    *o = f32::from(i16::from_le_bytes([b[0], b[1]])) * (1.0 / 32768.0);
                }
            }
            SampleFormat::I16 => decode(data, out, ch, bps, |b| {
                f64::from(i16::from_le_bytes([b[0], b[1]])) / 32768.0
            }),
            SampleFormat::I24 => decode(data, out, ch, bps, |b| {
                f64::from(i32::from_le_bytes([0, b[0], b[1], b[2]]) >> 8) / f64::from(1u32 << 23)
            }),
            SampleFormat::I32 => decode(data, out, ch, bps, |b| {
                f64::from(i32::from_le_bytes([b[0], b[1], b[2], b[3]])) / 2_147_483_648.0
            }),
            SampleFormat::F32 if ch == 1 => {
                for (o, b) in out.iter_mut().zip(data.chunks_exact(4)) {
                    *o = f32::from_le_bytes([b[0], b[1], b[2], b[3]]);
                }
            }
            SampleFormat::F32 => decode(data, out, ch, bps, |b| {
                f64::from(f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            }),
            SampleFormat::F64 => decode(data, out, ch, bps, |b| {
                f64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]])
            }),
        }
        ledger::record_copy(kind, n * 4);
        Ok(n)
    }

    /// The samples as mono `f32`: borrowed in place where the file is mono
    /// 32-bit float ([`Samples::Mapped`], zero copy), otherwise decoded once
    /// into a new 64-byte-aligned buffer ([`Samples::Decoded`]).
    pub fn samples(&self) -> Result<Samples<'_>> {
        if self.info.is_mono_f32() {
            if let Ok(s) = zc_buffers::cast_slice::<f32>(self.data_bytes()) {
                return Ok(Samples::Mapped(s));
            }
            let mut buf = AlignedBuf::zeroed(self.info.decoded_bytes())?;
            ledger::copy_bytes(buf.as_bytes_mut(), self.data_bytes(), CopyKind::Realign)?;
            return Ok(Samples::Decoded(buf));
        }
        let mut buf = AlignedBuf::zeroed(self.info.decoded_bytes())?;
        self.decode_into(&mut buf)?;
        Ok(Samples::Decoded(buf))
    }
}

#[cfg(feature = "resample")]
impl WavFile {
    /// Decode to mono and resample to 16 kHz into the prefix of `out`, which
    /// must hold at least [`WavInfo::resampled_bytes`] bytes of 4-byte-aligned memory.
    /// A 16 kHz file is simply [`decode_into`](Self::decode_into). Otherwise a
    /// [`Resampler`](crate::resample::Resampler) is planned for this call and
    /// the mono samples ([`samples`](Self::samples): in place for mono f32,
    /// else decoded into a temporary buffer) are resampled into `out`.
    /// Use [`decode_resampled_into_with`](Self::decode_resampled_into_with) to
    /// reuse a plan. Returns the number of samples written; on error `out` is
    /// untouched.
    pub fn decode_resampled_into<B: HostBufferMut + ?Sized>(&self, out: &mut B) -> Result<usize> {
        let out = out.as_slice_mut::<f32>()?;
        if self.info.sample_rate == SAMPLE_RATE {
            return self.decode_into_slice(out);
        }
        self.check_resampled_len(out.len())?;
        let mut resampler = crate::resample::Resampler::new(self.info.sample_rate)?;
        self.decode_resampled_into_with(&mut resampler, out)
    }

    /// [`decode_resampled_into`](Self::decode_resampled_into) with a plan made
    /// by the caller for this file's rate (else [`MelError::SampleRate`]).
    /// Allocates only the decoded mono buffer when the file is not mono f32.
    pub fn decode_resampled_into_with(
        &self,
        resampler: &mut crate::resample::Resampler,
        out: &mut [f32],
    ) -> Result<usize> {
        if resampler.input_rate() != self.info.sample_rate {
            return Err(MelError::SampleRate {
                path: self.path_buf(),
                expected: resampler.input_rate(),
                actual: self.info.sample_rate,
            });
        }
        self.check_resampled_len(out.len())?;
        let samples = self.samples()?;
        resampler.process_into_slice(&samples, out)
    }

    fn check_resampled_len(&self, actual: usize) -> Result<()> {
        let needed = self.info.num_samples_at(SAMPLE_RATE);
        if actual < needed {
            return Err(zc_buffers::BufferError::OutputTooSmall {
                type_name: "f32",
                needed,
                actual,
            }
            .into());
        }
        Ok(())
    }
}

/// Decode interleaved frames of `ch` channels of `bps`-byte samples, averaging in f64.
fn decode(data: &[u8], out: &mut [f32], ch: usize, bps: usize, sample: impl Fn(&[u8]) -> f64) {
    let inv = 1.0 / ch as f64;
    for (o, frame) in out.iter_mut().zip(data.chunks_exact(ch * bps)) {
        *o = if ch == 1 {
            sample(frame) as f32
        } else {
            (frame.chunks_exact(bps).map(&sample).sum::<f64>() * inv) as f32
        };
    }
}

/// Mono `f32` samples of a [`WavFile`]: in place, or decoded once.
#[derive(Debug)]
pub enum Samples<'a> {
    /// Viewed in place in the file mapping (no copy).
    Mapped(&'a [f32]),
    /// Decoded (or realigned) into an owned 64-byte-aligned buffer.
    Decoded(AlignedBuf),
}

impl Samples<'_> {
    /// True when no copy was made.
    pub fn is_zero_copy(&self) -> bool {
        matches!(self, Samples::Mapped(_))
    }
}

impl std::ops::Deref for Samples<'_> {
    type Target = [f32];
    fn deref(&self) -> &[f32] {
        match self {
            Samples::Mapped(s) => s,
            // 64-byte aligned and a whole number of f32 by construction
            Samples::Decoded(b) => b.as_slice::<f32>().unwrap_or(&[]), // ok: cannot fail, see above
        }
    }
}

/// Decode a 16 kHz WAV of any supported format into the prefix of `out`
/// (at least [`WavInfo::decoded_bytes`] bytes; open the file with [`WavFile::open`]
/// first to learn the size). Returns the number of samples written.
pub fn load_wav_into<B: HostBufferMut + ?Sized>(path: impl AsRef<Path>, out: &mut B) -> Result<usize> {
    WavFile::open(path)?.expect_sample_rate(SAMPLE_RATE)?.decode_into(out)
}
