"""The training timeline's files: the test codes stored at grid epochs, written and read back safely.

One file per grid epoch, ``codes/epoch_NNN.npy`` (gen_core.run.layout): a NumPy array of one record
per test image, its test-set index (int32) and its code (float16, a few KB for 500 images of a
small code). The writer commits it with the epoch's weights and history (gen_core.run.writer).

A run folder may come from anyone, so the reader trusts nothing in these files: each is sized
before it is read, its header is parsed and checked (record layout, code length, image count)
before any array is made, it is loaded with ``allow_pickle=False``, and its values are checked
(finite codes, indices of this test set, increasing). A file that fails is left out of the
timeline with a one-line reason; the others still play.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from gen_core.errors import CheckpointError
from gen_core.latent.timeline import TIMELINE_IMAGES, TimelineCodes
from gen_core.models.config import LATENT_DIM
from gen_core.run import layout

MAX_TIMELINE_FRAMES = 60  # epochs one timeline shows, spread evenly over the stored ones (first and last kept)
MAX_TIMELINE_VALUES = 8_000_000  # code values one timeline holds in memory (32 MB of float32)
_FLOAT16_MAX = float(np.finfo(np.float16).max)
_HEADER_BYTES = 4096  # an .npy header of these records is under 200 bytes


def codes_dtype(latent_dim: int) -> np.dtype:
    """One record per test image: its index in the test set and its code."""
    return np.dtype([("index", "<i4"), ("code", "<f2", (int(latent_dim),))])


def codes_writer(codes: TimelineCodes) -> Callable[[Path], None]:
    """A function writing ``codes`` as a timeline file at a given path (for gen_core.run.files.commit_files)."""
    table = np.empty(len(codes.indices), dtype=codes_dtype(codes.codes.shape[1]))
    table["index"] = codes.indices
    table["code"] = np.clip(codes.codes, -_FLOAT16_MAX, _FLOAT16_MAX)  # an autoencoder's far codes stay finite

    def write(path: Path) -> None:
        with open(path, "wb") as file:  # a file object: np.save would add ".npy" to a pending file's name
            np.save(file, table, allow_pickle=False)
    return write


def max_codes_bytes(latent_dim: int) -> int:
    return _HEADER_BYTES + TIMELINE_IMAGES * codes_dtype(latent_dim).itemsize


def read_codes(path: Path, latent_dim: int, test_count: int) -> TimelineCodes:
    """One timeline file, checked against a model with ``latent_dim``-d codes and a test set of
    ``test_count`` images; CheckpointError with a one-line reason when it does not fit."""
    path = Path(path)
    name = f"{layout.CODES_DIR}/{path.name}"
    if path.is_symlink():  # a link could point anywhere on the server
        raise CheckpointError(f"{name} is a link, not a file of the run")
    try:
        size = path.stat().st_size
        if size > max_codes_bytes(latent_dim):
            raise CheckpointError(f"{name} is {size:,} bytes, more than the codes of {TIMELINE_IMAGES} test images "
                                  f"take; it was not written by this app")
        data = path.read_bytes()
    except OSError as error:
        raise CheckpointError(f"{name} could not be read ({error.strerror or 'unreadable'})") from None
    try:
        table = _load_table(data, latent_dim)
    except ValueError as error:
        raise CheckpointError(f"{name} is not a timeline file of this model: {str(error)[:160]}") from None
    indices, codes = table["index"].astype(np.int64), table["code"].astype(np.float32)
    if not np.isfinite(codes).all():
        raise CheckpointError(f"{name} holds codes that are not finite numbers (NaN or infinity)")
    if indices.min() < 0 or indices.max() >= test_count or (np.diff(indices) <= 0).any():
        raise CheckpointError(f"{name} names test images that are not {min(test_count, len(indices))} different "
                              f"ones of this test set's {test_count}, in order")
    return TimelineCodes(indices, codes)


def _load_table(data: bytes, latent_dim: int) -> np.ndarray:
    """The records of an .npy file, after its header has been checked (ValueError with why not)."""
    if not 1 <= latent_dim <= LATENT_DIM.maximum:
        raise ValueError(f"a {latent_dim}-d code is not one a model here can have")
    stream = io.BytesIO(data)
    # numpy's own messages quote the file's first bytes; these say what is wrong without them
    try:
        version = np.lib.format.read_magic(stream)
    except ValueError:
        raise ValueError("it is not an .npy array") from None
    if version not in ((1, 0), (2, 0)):
        raise ValueError(f".npy format {version[0]}.{version[1]} is not one this app writes")
    reader = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
    try:
        shape, _fortran, dtype = reader(stream, max_header_size=_HEADER_BYTES)
    except Exception:  # numpy parses a header with Python's tokenizer, whose errors are of many kinds
        raise ValueError("its .npy header cannot be read") from None
    expected = codes_dtype(latent_dim)
    if dtype != expected:
        raise ValueError(f"it holds {str(dtype.descr)[:60]}, not an index and a {latent_dim}-d float16 code "
                         "per image")
    if len(shape) != 1 or not 1 <= shape[0] <= TIMELINE_IMAGES:
        raise ValueError(f"it holds an array of shape {shape}, not 1 to {TIMELINE_IMAGES} images")
    if len(data) - stream.tell() < shape[0] * dtype.itemsize:
        raise ValueError("it is shorter than its header says")
    return np.load(io.BytesIO(data), allow_pickle=False)  # from the start again, now known to fit


@dataclass(frozen=True)
class Timeline:
    """The epochs of a run's timeline that can be shown, their codes, and what was left out and why."""

    epochs: list[int] = field(default_factory=list)
    frames: list[TimelineCodes] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)  # one line per file left out
    stored: int = 0  # timeline files in the run folder (more than shown past MAX_TIMELINE_FRAMES)


def read_timeline(run_dir: Path, latent_dim: int, test_count: int) -> Timeline:
    """The run's timeline files that fit the model and the test set, up to MAX_TIMELINE_FRAMES of
    them evenly spread; epochs following other test images than the newest usable one are left out."""
    files = layout.timeline_files(run_dir)
    stored = len(files)
    most = max(2, min(MAX_TIMELINE_FRAMES, MAX_TIMELINE_VALUES // (TIMELINE_IMAGES * max(1, latent_dim))))
    if len(files) > most:
        files = [files[int(k)] for k in np.unique(np.linspace(0, len(files) - 1, most).round())]
    epochs, frames, refused = [], [], []
    for epoch, path in files:
        try:
            frames.append(read_codes(path, latent_dim, test_count))
            epochs.append(epoch)
        except CheckpointError as error:
            refused.append(str(error))
    if frames:
        newest = frames[-1].indices
        kept = [np.array_equal(frame.indices, newest) for frame in frames]
        refused += [f"{layout.codes_name(epoch)} follows other test images than epoch {epochs[-1]}"
                    for epoch, keep in zip(epochs, kept) if not keep]
        epochs = [epoch for epoch, keep in zip(epochs, kept) if keep]
        frames = [frame for frame, keep in zip(frames, kept) if keep]
    return Timeline(epochs, frames, refused, stored)
