//! Configuration: Whisper's constants, padding modes and output layouts.

use crate::error::{MelError, Result};

/// Whisper's sample rate (Hz).
pub const SAMPLE_RATE: u32 = 16_000;
/// Whisper's FFT size (25 ms).
pub const N_FFT: usize = 400;
/// Whisper's hop length (10 ms).
pub const HOP_LENGTH: usize = 160;
/// Samples in a 30 s Whisper chunk.
pub const N_SAMPLES: usize = 30 * SAMPLE_RATE as usize;
/// Frames in a 30 s Whisper chunk.
pub const N_FRAMES: usize = N_SAMPLES / HOP_LENGTH;

/// How the input is padded before the STFT. Padding is virtual: no padded
/// copy of the samples is made.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Padding {
    /// Use the samples as given: `len / hop` frames
    /// (`whisper.log_mel_spectrogram(audio)`).
    #[default]
    None,
    /// Zero-pad or trim to exactly this many samples first
    /// (`whisper.pad_or_trim(audio, n)`); [`Padding::WHISPER_30S`] gives 3000 frames.
    PadOrTrim(usize),
    /// Append this many zeros (`whisper.log_mel_spectrogram(audio, padding=n)`,
    /// as `transcribe()` does with `N_SAMPLES`).
    Append(usize),
}

impl Padding {
    /// `pad_or_trim` to 30 s (480 000 samples → 3000 frames).
    pub const WHISPER_30S: Padding = Padding::PadOrTrim(N_SAMPLES);

    /// The signal length after padding/trimming `n_samples`, or `None` on overflow.
    pub fn effective_len(self, n_samples: usize) -> Option<usize> {
        match self {
            Padding::None => Some(n_samples),
            Padding::PadOrTrim(n) => Some(n),
            Padding::Append(n) => n_samples.checked_add(n),
        }
    }
}

/// Memory layout of the output matrix (row-major in both cases).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Layout {
    /// `(n_mels, n_frames)`: Whisper's own layout, what the encoder takes.
    #[default]
    MelMajor,
    /// `(n_frames, n_mels)`: one contiguous mel vector per frame.
    FrameMajor,
}

impl Layout {
    /// `(rows, cols)` of an `n_mels` × `n_frames` spectrogram in this layout.
    pub fn shape(self, n_mels: usize, n_frames: usize) -> (usize, usize) {
        match self {
            Layout::MelMajor => (n_mels, n_frames),
            Layout::FrameMajor => (n_frames, n_mels),
        }
    }
}

/// The shape of a computed log-mel spectrogram: what every compute call
/// returns, whichever output form it wrote to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct MelShape {
    /// Mel bands per frame.
    pub n_mels: usize,
    /// Frames written.
    pub n_frames: usize,
    /// The memory layout the values were written in.
    pub layout: Layout,
}

impl MelShape {
    /// `(rows, cols)` of the row-major matrix in [`MelShape::layout`]: read
    /// a larger output buffer's prefix with these.
    pub fn dims(&self) -> (usize, usize) {
        self.layout.shape(self.n_mels, self.n_frames)
    }

    /// Values written, `n_mels * n_frames` (saturating; a shape returned by
    /// a compute call never saturates).
    pub fn len(&self) -> usize {
        self.n_mels.saturating_mul(self.n_frames)
    }

    /// Whether no value was written (no frames).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Which maximum the `max − top_db` clamp is taken from.
#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub enum Normalization {
    /// The maximum over everything one call computes: one clip, or a whole
    /// batch (as `whisper.log_mel_spectrogram` does for a batched tensor).
    /// Whisper's default.
    #[default]
    Global,
    /// Each clip of a batch against its own maximum (clips independent);
    /// the same as [`Normalization::Global`] for a single clip.
    PerItem,
    /// A maximum (in `log10` units, before the `(x + 4) / 4` scaling)
    /// supplied by the caller. Needed for streaming, where the global
    /// maximum is not known until the end; offline and streamed output
    /// are then identical.
    Fixed(f32),
}

/// Parameters of a log-mel spectrogram. [`MelConfig::whisper`] gives
/// openai-whisper's definition; the fields may be changed for other
/// front ends that share its Slaney filterbank and log normalisation.
#[derive(Clone, Debug, PartialEq)]
pub struct MelConfig {
    /// Sample rate in Hz.
    pub sample_rate: u32,
    /// FFT size = window length (periodic Hann).
    pub n_fft: usize,
    /// Hop between frames, in samples.
    pub hop_length: usize,
    /// Number of mel bands (80 for Whisper v1–v3 small models, 128 for large-v3).
    pub n_mels: usize,
    /// Lowest filter edge in Hz.
    pub f_min: f64,
    /// Highest filter edge in Hz (`None`: `sample_rate / 2`).
    pub f_max: Option<f64>,
    /// Dynamic range kept below the global maximum, in log10 units (Whisper: 8).
    pub top_db: f32,
    /// Padding applied to every input.
    pub padding: Padding,
    /// Where the clamp maximum comes from.
    pub normalization: Normalization,
}

impl MelConfig {
    /// openai-whisper's log-mel: 16 kHz, `n_fft` 400, hop 160, Slaney mel
    /// filters over 0–8 kHz, `log10`, clamp to max − 8, `(x + 4) / 4`;
    /// no padding.
    pub fn whisper(n_mels: usize) -> Self {
        Self {
            sample_rate: SAMPLE_RATE,
            n_fft: N_FFT,
            hop_length: HOP_LENGTH,
            n_mels,
            f_min: 0.0,
            f_max: None,
            top_db: 8.0,
            padding: Padding::None,
            normalization: Normalization::Global,
        }
    }

    /// The same configuration with another padding mode.
    pub fn padding(mut self, padding: Padding) -> Self {
        self.padding = padding;
        self
    }

    /// The same configuration with another normalisation scope.
    pub fn normalization(mut self, normalization: Normalization) -> Self {
        self.normalization = normalization;
        self
    }

    /// `f_max`, defaulted to Nyquist.
    pub fn f_max_hz(&self) -> f64 {
        self.f_max.unwrap_or(f64::from(self.sample_rate) / 2.0)
    }

    /// Number of one-sided FFT bins (`n_fft / 2 + 1`).
    pub fn n_bins(&self) -> usize {
        self.n_fft / 2 + 1
    }

    /// Check the configuration.
    pub fn validate(&self) -> Result<()> {
        let bad = |reason| Err(MelError::InvalidConfig { reason });
        if self.sample_rate == 0 {
            return bad("sample_rate must be positive");
        }
        if self.n_fft < 2 {
            return bad("n_fft must be at least 2");
        }
        if !self.n_fft.is_multiple_of(2) {
            return bad("n_fft must be even");
        }
        if self.n_fft > 1 << 20 {
            return bad("n_fft must be at most 2^20");
        }
        if self.hop_length == 0 {
            return bad("hop_length must be positive");
        }
        if self.n_mels == 0 {
            return bad("n_mels must be positive");
        }
        if self.n_mels > 4096 {
            return bad("n_mels must be at most 4096");
        }
        let f_max = self.f_max_hz();
        if !(self.f_min.is_finite() && f_max.is_finite()) || self.f_min < 0.0 {
            return bad("f_min and f_max must be finite and non-negative");
        }
        if self.f_min >= f_max {
            return bad("f_min must be below f_max");
        }
        if f_max > f64::from(self.sample_rate) / 2.0 {
            return bad("f_max must not exceed the Nyquist frequency");
        }
        if !(self.top_db.is_finite() && self.top_db > 0.0) {
            return bad("top_db must be finite and positive");
        }
        if let Normalization::Fixed(m) = self.normalization
            && !m.is_finite()
        {
            return bad("a fixed normalisation maximum must be finite");
        }
        Ok(())
    }

    /// Fewest (padded) samples that give at least one frame (saturating: a
    /// configuration whose minimum does not fit a `usize` can produce no
    /// frame at all).
    pub fn min_samples(&self) -> usize {
        let half = self.n_fft / 2;
        (half.saturating_add(1)).max(self.hop_length.saturating_add(self.n_fft).saturating_sub(2 * half))
    }

    /// Frames produced for `n_samples` input samples under the configured
    /// padding (Whisper: `padded_len / 160`; the last STFT frame is dropped).
    ///
    /// The configuration is validated first (its fields are public, so any
    /// value can reach here): an invalid one is [`MelError::InvalidConfig`],
    /// never a division by zero; a padded length that does not fit a
    /// `usize` is [`MelError::InvalidConfig`] too, never a wrap.
    pub fn n_frames(&self, n_samples: usize) -> Result<usize> {
        self.validate()?;
        let len = self.padding.effective_len(n_samples).ok_or(MelError::InvalidConfig {
            reason: "the padded length overflows usize",
        })?;
        let needed = self.min_samples();
        if len < needed {
            return Err(MelError::TooShort { samples: len, needed });
        }
        // n_fft is even (validated), so the reflect padding adds exactly
        // n_fft samples and the frame count is `len / hop`; written out with
        // checked steps so that no configuration can make it wrap.
        let half = self.n_fft / 2;
        let span = len
            .checked_add(2 * half)
            .and_then(|v| v.checked_sub(self.n_fft))
            .ok_or(MelError::InvalidConfig {
                reason: "the padded length overflows usize",
            })?;
        Ok(span / self.hop_length)
    }

    /// The shape of the output for `n_samples` input samples in `layout`.
    pub fn output_shape(&self, n_samples: usize, layout: Layout) -> Result<MelShape> {
        Ok(MelShape {
            n_mels: self.n_mels,
            n_frames: self.n_frames(n_samples)?,
            layout,
        })
    }

    /// `f32` values of output for `n_samples` input samples, to size a slice.
    pub fn output_len(&self, n_samples: usize) -> Result<usize> {
        self.n_frames(n_samples)?
            .checked_mul(self.n_mels)
            .ok_or(MelError::InvalidConfig {
                reason: "output size overflows usize",
            })
    }

    /// Bytes of `f32` output for `n_samples` input samples, to size a buffer.
    pub fn output_bytes(&self, n_samples: usize) -> Result<usize> {
        self.output_len(n_samples)?
            .checked_mul(4)
            .ok_or(MelError::InvalidConfig {
                reason: "output size overflows usize",
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whisper_shapes() {
        let c = MelConfig::whisper(80);
        assert_eq!(c.n_frames(122_931).unwrap(), 768);
        assert_eq!(c.n_frames(N_SAMPLES).unwrap(), N_FRAMES);
        let p = c.clone().padding(Padding::WHISPER_30S);
        assert_eq!(p.n_frames(5).unwrap(), 3000);
        assert_eq!(p.output_shape(10, Layout::FrameMajor).unwrap().dims(), (3000, 80));
        assert_eq!(p.output_len(10).unwrap(), 80 * 3000);
        assert_eq!(p.output_bytes(10).unwrap(), 80 * 3000 * 4);
        let a = c.clone().padding(Padding::Append(N_SAMPLES));
        assert_eq!(a.n_frames(122_931).unwrap(), (122_931 + N_SAMPLES) / 160);
        assert_eq!(c.min_samples(), 201);
        assert!(matches!(
            c.n_frames(200),
            Err(MelError::TooShort {
                samples: 200,
                needed: 201
            })
        ));
        assert_eq!(c.n_frames(201).unwrap(), 1);
    }

    #[test]
    fn invalid_configs_are_rejected() {
        let ok = MelConfig::whisper(80);
        assert!(ok.validate().is_ok());
        for c in [
            MelConfig { n_fft: 1, ..ok.clone() },
            MelConfig {
                hop_length: 0,
                ..ok.clone()
            },
            MelConfig {
                n_mels: 0,
                ..ok.clone()
            },
            MelConfig {
                sample_rate: 0,
                ..ok.clone()
            },
            MelConfig {
                f_min: 9000.0,
                ..ok.clone()
            },
            MelConfig {
                f_max: Some(9000.0),
                ..ok.clone()
            },
            MelConfig {
                f_min: f64::NAN,
                ..ok.clone()
            },
            MelConfig {
                top_db: 0.0,
                ..ok.clone()
            },
            MelConfig {
                n_fft: 401,
                ..ok.clone()
            },
            ok.clone().normalization(Normalization::Fixed(f32::NAN)),
        ] {
            assert!(matches!(c.validate(), Err(MelError::InvalidConfig { .. })), "{c:?}");
        }
    }
}
