"""zc.mel: Whisper log-mel spectrograms (float32, within 5e-5 of openai-whisper)."""
import os
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
    or ``(frames, n_mels)``. With ``out=`` nothing is allocated or copied."""

class MelSpectrogram:
    def __init__(self, n_mels: int = 80, padding: int = 0, *, pad_to: int | None = None, threads: int = 1) -> None: ...
    @property
    def n_mels(self) -> int: ...
    def n_frames(self, n_samples: int) -> int: ...
    def output_shape(self, n_samples: int, layout: Layout = "mel") -> tuple[int, int]: ...
    def __call__(
        self, audio: npt.NDArray[np.float32], layout: Layout = "mel", out: npt.NDArray[np.float32] | None = None
    ) -> npt.NDArray[np.float32]: ...
    def filters(self) -> npt.NDArray[np.float32]: ...

def load_wav(path: str | os.PathLike[str]) -> npt.NDArray[np.float32]:
    """Mono float32 samples at 16 kHz (resampled when the file has another rate)."""
