"""What makes a Trainer's step fast on its device, chosen once when it starts and recorded.

The precision (``gen_core.compute.choose_precision``, with a short timing of this model's own step
when ``auto`` has to decide on a CPU with bfloat16 instructions), Adam's fused kernel kept across a
resume, the memory layout of a convolutional model's tensors (``choose_memory_format``), and
``torch.compile`` of the model's networks when asked for. ``compute_record`` is the
entry a run's history keeps for each training session (``history["compute"]``).
"""

from __future__ import annotations

import copy
import time

import torch

from gen_core.compute import ThreadChoice, PrecisionChoice, choose_precision

TIMED_STEPS = 3
CONVOLUTIONS = (torch.nn.Conv2d, torch.nn.ConvTranspose2d)


def time_steps(model, batch: torch.Tensor, precision: str, steps: int = TIMED_STEPS) -> float:
    """Seconds for ``steps`` training steps of a copy of ``model`` in ``precision`` (one untimed
    step first); the model itself is left untouched."""
    probe = copy.deepcopy(model)
    probe.precision = precision
    optimizers = probe.make_optimizers(1e-4)
    probe.train()
    probe.train_step(batch, optimizers)
    started = time.perf_counter()
    for _ in range(steps):
        probe.train_step(batch, optimizers)
    if batch.device.type == "cuda":
        torch.cuda.synchronize(batch.device)
    return time.perf_counter() - started


def resolve_precision(requested: str, model, batch: torch.Tensor | None, device: torch.device) -> PrecisionChoice:
    """The precision to train ``model`` in, timing its step on ``batch`` when ``auto`` needs it
    (``batch`` None: not timed, so ``auto`` on a CPU stays float32)."""
    best: dict[str, float] = {}

    def timed(precision: str) -> float:  # the faster of two alternating rounds each
        if not best:
            devices = [batch.device] if batch.device.type == "cuda" else []
            with torch.random.fork_rng(devices=devices):  # the run's own random draws stay as seeded
                for _ in range(2):
                    for kind in ("fp32", "bf16"):
                        seconds = time_steps(model, batch, kind)
                        best[kind] = min(best.get(kind, seconds), seconds)
        return best[precision]

    return choose_precision(requested, device, timed if batch is not None else None)


def choose_memory_format(model, device: torch.device) -> torch.memory_format:
    """Channels-last for a model with convolutions on a CPU, the layout oneDNN's convolution kernels
    work in (NCHW tensors are reordered on every call): measured on the 2-core CPU, a DCGAN step of 64
    images ran 1.3x and a VAE-GAN's 1.25x faster. Elsewhere the default layout (not measured on a GPU)."""
    if device.type == "cpu" and any(isinstance(module, CONVOLUTIONS) for module in model.modules()):
        return torch.channels_last
    return torch.contiguous_format


def in_layout(images: torch.Tensor, memory_format: torch.memory_format) -> torch.Tensor:
    """A batch of images (N, C, H, W) in the model's layout (no copy when it already is)."""
    return images if memory_format == torch.contiguous_format else images.contiguous(memory_format=memory_format)


def keep_kernels(optimizer: torch.optim.Optimizer, state: dict) -> None:
    """Load a saved optimiser state but keep this device's Adam kernel (fused or not): a state
    saved elsewhere carries the kernel flags of the machine that saved it. Moment tensors take their
    weight's memory layout (a checkpoint holds them contiguous; the weights may be channels-last)."""
    kernels = [{key: group.get(key) for key in ("fused", "foreach")} for group in optimizer.param_groups]
    optimizer.load_state_dict(state)
    for group, kept in zip(optimizer.param_groups, kernels):
        group.update(kept)
        for parameter in group["params"]:
            entry = optimizer.state.get(parameter, {})
            for key, value in entry.items():
                if torch.is_tensor(value) and value.shape == parameter.shape and value.stride() != parameter.stride():
                    entry[key] = torch.empty_like(parameter, dtype=value.dtype).copy_(value)
            if kept["fused"]:  # the fused kernel keeps its step count as a float32 tensor beside the weights
                if "step" in entry:
                    entry["step"] = torch.as_tensor(entry["step"], dtype=torch.float32, device=parameter.device)


def compile_networks(model) -> None:
    """``torch.compile`` each network of ``model`` in place (its forward; the step's Python stays)."""
    for child in model.children():
        if isinstance(child, torch.nn.Module) and any(True for _ in child.parameters()):
            child.compile()


def optimizer_kind(optimizers: dict) -> str:
    fused = all(group.get("fused") for optimizer in optimizers.values() for group in optimizer.param_groups)
    return "Adam, fused" if fused else "Adam"


def compute_record(start_epoch: int, device: torch.device, threads: ThreadChoice, precision: PrecisionChoice,
                   requested_precision: str, optimizers: dict, compiled: bool,
                   memory_format: torch.memory_format = torch.contiguous_format) -> dict:
    """What the history says of how one training session computed."""
    measured = {} if threads.load is None else {"load": round(threads.load, 2)}  # busy cores, when measured
    return {"from_epoch": start_epoch + 1, "device": str(device), "threads": threads.threads, "cores": threads.cores,
            **measured, "threads_reason": threads.reason, "precision_asked": requested_precision,
            "precision": precision.precision, "precision_reason": precision.reason,
            "optimizer": optimizer_kind(optimizers), "compiled": compiled,
            "layout": "channels-last" if memory_format == torch.channels_last else "contiguous"}
