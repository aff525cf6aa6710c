"""A run's decoder as an ONNX file, for decoding in the visitor's browser (onnxruntime-web).

    <run>/decoder.onnx   (gen_core.run.layout) derived data: the decoder of the weights beside it, rebuilt when they change

The file is a cache, never a source of truth: it records the SHA-256 of the ``model.safetensors``
it was exported from in its own metadata, and a file whose record does not match the weights (or
that cannot be read at all: a hand-edited folder) is exported afresh. Run zips leave it out.

Every family decodes a code to an image through ``model.decode``; the export traces exactly that,
so the ONNX graph takes ``z`` (N, latent_dim) float32 and gives images (N, C, H, W) in [0, 1], the
same as the server draws. Decoders over ``MAX_DECODER_BYTES`` are refused: a browser would fetch
and hold them, and a room of fifty would fetch them fifty times.
"""

from __future__ import annotations

import copy
import hashlib
import io
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

import onnx

from gen_core.atomic import write_bytes_atomic
from gen_core.errors import CheckpointError, GenCoreError
from gen_core.run.checkpoint import load_run
from gen_core.run.files import writing
from gen_core.run.layout import DECODER_FILE, WEIGHTS_FILE
MAX_DECODER_BYTES = 48 * 2**20  # 12 million float32 weights: every decoder a preset builds fits many times over
OPSET = 18
INPUT_NAME, OUTPUT_NAME = "z", "image"
_WEIGHTS_KEY = "latent_lab.weights_sha256"
_SHAPE_KEY = "latent_lab.image_shape"


class DecoderExportError(GenCoreError, ValueError):
    """A decoder cannot be exported for the browser (too large, or the export failed)."""


@dataclass(frozen=True)
class OnnxDecoder:
    """An exported decoder: its bytes and what a browser needs to run and draw it."""

    data: bytes
    weights_sha256: str  # of the model.safetensors it was exported from: a cache key for the browser too
    latent_dim: int
    image_shape: tuple[int, int, int]
    cached: bool  # False when it was exported just now
    on_disk: bool  # whether RUN/decoder.onnx holds it (not when the folder is busy or read-only)

    @property
    def size_bytes(self) -> int:
        return len(self.data)


class _DecodeOnly(nn.Module):
    """``model.decode`` as a module's forward, which is what the exporter traces."""

    def __init__(self, model) -> None:
        super().__init__()
        self.model = model

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.model.decode(z)


def weights_digest(run_dir: Path) -> str:
    """SHA-256 of the run's weights file: the export's cache key (a few ms for a few MB)."""
    digest = hashlib.sha256()
    try:
        with open(Path(run_dir) / WEIGHTS_FILE, "rb") as weights:
            for block in iter(lambda: weights.read(2**20), b""):
                digest.update(block)
    except OSError:
        raise CheckpointError(f"{Path(run_dir).name}: the weights file is missing or unreadable") from None
    return digest.hexdigest()


def export_decoder(model, weights_sha256: str = "") -> bytes:
    """The ONNX bytes of ``model.decode`` (batch size free), with ``weights_sha256`` in its metadata.

    Runs on the CPU in float32, with the threads the process's policy gave it (gen_core.compute).
    """
    _check_parameter_bound(model)
    decoder = _DecodeOnly(_cpu_float32(model)).eval()
    example = torch.zeros(2, model.latent_dim)
    buffer = io.BytesIO()
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the exporter's notes about itself are not the user's business
        try:
            torch.onnx.export(decoder, (example,), buffer, input_names=[INPUT_NAME], output_names=[OUTPUT_NAME],
                              opset_version=OPSET, dynamo=False,
                              dynamic_axes={INPUT_NAME: {0: "batch"}, OUTPUT_NAME: {0: "batch"}})
        except Exception as error:  # the exporter raises many kinds; one message for the caller
            raise DecoderExportError(f"The decoder could not be exported to ONNX ({type(error).__name__}: "
                                     f"{str(error)[:200]})") from None
    data = _with_metadata(buffer.getvalue(), {_WEIGHTS_KEY: weights_sha256,
                                              _SHAPE_KEY: ",".join(map(str, model.image_shape))})
    check_decoder_size(len(data))
    return data


def check_decoder_size(size_bytes: int) -> None:
    if size_bytes > MAX_DECODER_BYTES:
        raise DecoderExportError(f"This decoder is {size_bytes / 2**20:.0f} MB; decoders over "
                                 f"{MAX_DECODER_BYTES // 2**20} MB are not sent to browsers.")


def decoder_for_run(run_dir: Path, model=None, *, write: bool = True) -> OnnxDecoder:
    """The run's ONNX decoder: ``decoder.onnx`` when it matches the weights, else exported afresh.

    ``model`` is the run's loaded model (loaded here when None). The fresh export is written into
    the run folder when ``write`` and no training process is writing the folder right now; either
    way it is returned, so a busy folder only costs a re-export later.
    """
    run_dir = Path(run_dir)
    digest = weights_digest(run_dir)
    cached = read_cached(run_dir, digest)
    if model is None:
        model = load_run(run_dir).model
    if cached is not None:
        return OnnxDecoder(cached, digest, model.latent_dim, tuple(model.image_shape), cached=True, on_disk=True)
    data = export_decoder(model, digest)
    stored = write and _store(run_dir, data)
    return OnnxDecoder(data, digest, model.latent_dim, tuple(model.image_shape), cached=False, on_disk=stored)


def read_cached(run_dir: Path, weights_sha256: str) -> bytes | None:
    """``decoder.onnx``'s bytes when it was exported from these weights; None when absent, stale,
    over the size limit or unreadable (a hand-edited file is not an error: it is exported again)."""
    path = Path(run_dir) / DECODER_FILE
    try:
        if not path.is_file() or path.is_symlink() or path.stat().st_size > MAX_DECODER_BYTES:
            return None
        data = path.read_bytes()
    except OSError:
        return None
    return data if _metadata(data).get(_WEIGHTS_KEY) == weights_sha256 else None


def _store(run_dir: Path, data: bytes) -> bool:
    """Write ``decoder.onnx`` under the run's writer lock; False when a training process holds the
    folder or it cannot be written (the export is then served from memory)."""
    try:
        with writing(run_dir):  # one writer per run folder: never beside a training process
            write_bytes_atomic(run_dir / DECODER_FILE, data)
    except (CheckpointError, OSError):  # RunBusyError is a CheckpointError
        return False
    return True


def _metadata(data: bytes) -> dict[str, str]:
    try:
        model = onnx.load_from_string(data)
    except Exception:  # protobuf's DecodeError and friends: not an ONNX file
        return {}
    return {entry.key: entry.value for entry in model.metadata_props}


def _with_metadata(data: bytes, values: dict[str, str]) -> bytes:
    model = onnx.load_from_string(data)
    for key, value in values.items():
        model.metadata_props.add(key=key, value=value)
    model.producer_name = "latent-lab"
    return model.SerializeToString()


def _check_parameter_bound(model) -> None:
    """Refuse before exporting when even the whole model's weights would be far over the limit."""
    total = sum(parameter.numel() for parameter in model.parameters())
    if 4 * total > 8 * MAX_DECODER_BYTES:
        check_decoder_size(4 * total)


def _cpu_float32(model):
    """The model itself when it is a float32 CPU model in eval mode (what pages hold), else a copy
    that is: the export must not move or switch the caller's model."""
    first = next(model.parameters())
    if first.device.type == "cpu" and first.dtype == torch.float32 and not model.training \
            and getattr(model, "precision", "fp32") == "fp32":
        return model
    clone = copy.deepcopy(model).to("cpu", torch.float32).eval()
    clone.precision = "fp32"  # no autocast in the exported graph
    return clone
