"""zc.mel: Whisper log-mel spectrograms (float32, within 5e-5 of openai-whisper)."""
import os
from collections.abc import Sequence
from typing import Literal

import numpy as np
import numpy.typing as npt

SAMPLE_RATE: int
N_FFT: int
HOP_LENGTH: int
N_SAMPLES: int
N_FRAMES: int

Layout = Literal["mel", "frames"]

def log_mel(
    audio: npt.NDArray[np.float32],
    n_mels: int = 80,
    padding: int = 0,
    layout: Layout = "mel",
    out: npt.NDArray[np.float32] | None = None,
    *,
    pad_to: int | None = None,
) -> npt.NDArray[np.float32]:
    """``whisper.log_mel_spectrogram(audio, n_mels, padding)``; ``(n_mels, frames)``
    or ``(frames, n_mels)``. With ``out=`` nothing is copied and nothing allocated but
    rust-numpy's two borrow records (a few hundred bytes, freed on return)."""

class MelSpectrogram:
    """An immutable plan shared by every thread that calls it (the GIL is
    released; each call borrows scratch from the plan's free list).
    ``threads`` splits one long clip's frames (or a batch's clips) over that
    many workers (``0``: every core) with output bit-identical to one thread.
    A one-thread ``out=`` call allocates nothing but rust-numpy's two borrow
    records (a few hundred bytes, freed on return)."""
    def __init__(self, n_mels: int = 80, padding: int = 0, *, pad_to: int | None = None, threads: int = 1) -> None: ...
    @property
    def n_mels(self) -> int: ...
    @property
    def threads(self) -> int:
        """Workers per call (``threads=0`` reports the cores it resolved to)."""
    def n_frames(self, n_samples: int) -> int: ...
    def output_shape(self, n_samples: int, layout: Layout = "mel") -> tuple[int, int]: ...
    def __call__(
        self, audio: npt.NDArray[np.float32], layout: Layout = "mel", out: npt.NDArray[np.float32] | None = None
    ) -> npt.NDArray[np.float32]: ...
    def batch(
        self,
        clips: Sequence[npt.NDArray[np.float32]],
        layout: Layout = "mel",
        out: npt.NDArray[np.float32] | None = None,
        *,
        per_item: bool = False,
    ) -> npt.NDArray[np.float32]:
        """``(len(clips), rows, cols)`` for the largest clip's shape; shorter clips fill the
        top-left corner of their item (the rest is left as it was). Clamp maximum over the
        batch unless ``per_item`` (that plan is made on first use and kept). ``out=``: float32,
        3-D, writeable, any strides, at least that large."""
    def filters(self) -> npt.NDArray[np.float32]: ...

class MelStream:
    """Chunks in, complete frames out, ``(frames, n_mels)``; clamps at a fixed ``max_log10``."""
    def __init__(self, n_mels: int = 80, *, max_log10: float) -> None: ...
    @property
    def n_mels(self) -> int: ...
    @property
    def frames_emitted(self) -> int: ...
    @property
    def samples_received(self) -> int: ...
    def frames_for_push(self, n: int) -> int: ...
    def frames_for_finish(self) -> int: ...
    def push(
        self, chunk: npt.NDArray[np.float32], out: npt.NDArray[np.float32] | None = None
    ) -> npt.NDArray[np.float32]: ...
    def finish(self, out: npt.NDArray[np.float32] | None = None) -> npt.NDArray[np.float32]: ...
    def reset(self) -> None: ...

def load_wav(path: str | os.PathLike[str]) -> npt.NDArray[np.float32]:
    """Mono float32 samples at 16 kHz (resampled when the file has another rate)."""
