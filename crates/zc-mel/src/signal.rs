//! The signal as the STFT sees it: reflect padding at both ends and
//! virtual zero padding, read in place (no padded copy is ever made).

/// The signal as the STFT sees it: samples `offset..real_end` held in
/// `data`, virtual zeros from `real_end` to `len`, reflected at both ends.
#[derive(Clone, Copy)]
pub(crate) struct Signal<'a> {
    pub(crate) data: &'a [f32],
    /// Index (in signal coordinates) of `data[0]`.
    pub(crate) offset: usize,
    /// End of the real samples.
    pub(crate) real_end: usize,
    /// Length of the (zero-padded) signal; reflection happens at `len - 1`.
    pub(crate) len: usize,
}

impl Signal<'_> {
    /// Index into the signal of padded position `j` (`-len < j < 2 len - 1`).
    #[inline]
    pub(crate) fn reflect(&self, j: isize) -> usize {
        let len = self.len as isize;
        let i = if j < 0 {
            -j
        } else if j >= len {
            2 * (len - 1) - j
        } else {
            j
        };
        i.max(0) as usize
    }

    #[inline]
    pub(crate) fn at(&self, j: isize) -> f32 {
        let i = self.reflect(j);
        if i >= self.real_end {
            return 0.0;
        }
        i.checked_sub(self.offset)
            .and_then(|k| self.data.get(k))
            .copied()
            .unwrap_or(0.0)
    }

    /// The `n` samples from position `start` when they are all real and held.
    #[inline]
    pub(crate) fn contiguous(&self, start: isize, n: usize) -> Option<&[f32]> {
        let s = usize::try_from(start).ok()?;
        if s < self.offset || s + n > self.real_end {
            return None;
        }
        self.data.get(s - self.offset..s - self.offset + n)
    }

    /// Whether every sample of the window at `start..start + n` is a
    /// virtual zero (after reflection).
    #[inline]
    pub(crate) fn is_silent(&self, start: isize, n: usize) -> bool {
        let end = start + n as isize - 1;
        // reflect() is piecewise monotone with its minimum 0 at j = 0, so the
        // smallest index read is at an end of the window or 0 inside it
        let mut lo = self.reflect(start).min(self.reflect(end));
        if start <= 0 && end >= 0 {
            lo = 0;
        }
        lo >= self.real_end
    }
}
