"""One place that decides where tensors live: CUDA, then Apple MPS, then the CPU."""

from __future__ import annotations

import torch


def pick_device(preference: str = "auto") -> torch.device:
    """Return the device to use. ``preference`` is "auto", "cpu", "cuda", "cuda:N" or "mps".

    An explicit request for an accelerator that is not present raises ``ValueError`` rather
    than silently training on the CPU for hours.
    """
    preference = (preference or "auto").lower()
    if preference == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(preference)
    except RuntimeError:  # torch's message lists every backend it was built with
        raise ValueError(f"Unknown device {preference[:40]!r}; use auto, cpu, cuda, cuda:N or mps.") from None
    if device.type not in ("cpu", "cuda", "mps"):
        raise ValueError(f"Device {preference[:40]!r} is not one this app trains on; use auto, cpu, cuda, cuda:N or mps.")
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("CUDA was requested but no CUDA GPU is available on this machine.")
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        raise ValueError(f"There is no GPU {device.index}; this machine has {torch.cuda.device_count()}.")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError("MPS was requested but Apple's Metal backend is not available here.")
    return device


def device_label(device: torch.device | str | None = None) -> str:
    """A human-readable name: the GPU's model name, "Apple MPS" or "CPU (N threads)"."""
    device = pick_device() if device is None else torch.device(device)
    if device.type == "cuda":
        return f"GPU: {torch.cuda.get_device_name(device)}"
    if device.type == "mps":
        return "GPU: Apple MPS"
    return f"CPU ({torch.get_num_threads()} threads)"


def keeps_data_on_device(device: torch.device, nbytes: int) -> bool:
    """Whether a dataset of ``nbytes`` lives on ``device``, so batches are slices of a device tensor.

    The CPU and MPS (unified memory) always; a CUDA GPU when the data takes less than a quarter
    of its free memory, leaving the rest for the model, activations and the optimiser.
    """
    if device.type == "cuda":
        return nbytes < torch.cuda.mem_get_info(device)[0] / 4
    return device.type in ("cpu", "mps")

