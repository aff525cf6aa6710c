"""Data-parallel training across processes and machines, launched by ``torchrun``.

``torchrun --nproc_per_node N -m gen_core train ...`` starts N copies of the command line; torchrun
sets RANK, WORLD_SIZE and LOCAL_RANK, and ``start`` joins them into one process group (NCCL on
CUDA, gloo on the CPU). The Trainer then asks ``current()`` for the group: with one process it
gets ``SOLO``, whose methods do nothing, so a plain ``python -m gen_core train`` runs exactly the
single-process code.

How the processes stay one model. Every rank builds the same model, rank 0's weights are copied
to all, and before each optimiser step the gradients of that optimiser's parameters are
averaged across ranks (an optimiser step pre-hook, ``register_step_pre_hook``). Since every rank
then applies the same update to the same weights with the same optimiser state, the copies stay
equal. We do this instead of wrapping the model in ``DistributedDataParallel`` because the
families own their training step: the GANs run the discriminator several times per step, back-
propagate one loss into the generator through it, and the VAE-GAN sends each loss to a subset of
its parameters (``backward(inputs=...)``). DDP's reducer expects one forward and one backward
that reaches every parameter once, so wrapping would mean rewriting every family's step around
DDP; averaging at the optimiser step is correct for all of them unchanged. It costs DDP's overlap
of communication with the backward pass, which for models this size is small.

Gradients are weighted by each rank's share of the global batch, so the average is exactly the
gradient of the global batch's mean loss even when the last batch splits unevenly. BatchNorm
statistics are per rank during a step (as in DDP without SyncBatchNorm); floating buffers
(BatchNorm's running statistics, the autoencoder's code statistics) are averaged at the end of
every epoch, before the test set is scored and the run is saved.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from dataclasses import dataclass, field
from datetime import timedelta

import torch
import torch.distributed as dist

from gen_core.device import pick_device
from gen_core.errors import TrainingError

PEER_LOST = ("Another training process ended unexpectedly, so the run stopped; its last completed epoch "
             "is kept and it can be resumed")


class DistributedError(TrainingError):
    """The process group broke: a rank died or the launcher ended this process."""


@dataclass
class Group:
    """The processes training one model; ``SOLO`` when there is only this one."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    _step_weight: list = field(default_factory=lambda: [1.0])

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.world_size > 1

    def device_for(self, device: torch.device) -> torch.device:
        """Each process on a machine takes its own GPU: cuda:LOCAL_RANK."""
        if self.active and device.type == "cuda" and device.index is None:
            return torch.device("cuda", self.local_rank)
        return device

    # -- splitting the work ------------------------------------------------------------------
    def share(self, indices: torch.Tensor) -> torch.Tensor:
        """This rank's contiguous part of a global batch; sets the weight of its gradients."""
        if not self.active:
            return indices
        mine = torch.tensor_split(indices, self.world_size)[self.rank]
        self._step_weight[0] = len(mine) / len(indices)
        return mine

    def part_of(self, images: torch.Tensor) -> torch.Tensor:
        """This rank's contiguous part of ``images`` (each scores its part of the test set)."""
        return torch.tensor_split(images, self.world_size)[self.rank] if self.active else images

    def check_enough(self, train_count: int, test_count: int) -> None:
        if train_count < 2 * self.world_size or test_count < self.world_size:
            raise TrainingError(f"{train_count} training and {test_count} test images are too few to share "
                                f"among {self.world_size} processes")

    # -- keeping the copies equal --------------------------------------------------------------
    def attach(self, model: torch.nn.Module, optimizers: dict) -> None:
        """Copy rank 0's weights to every rank and average gradients before every optimiser step."""
        if not self.active:
            return
        with torch.no_grad():
            self._collective(lambda: [dist.broadcast(t.detach(), 0) for t in _floating_state(model)])
        for optimizer in optimizers.values():
            parameters = [p for group in optimizer.param_groups for p in group["params"]]
            optimizer.register_step_pre_hook(lambda opt, args, kwargs, ps=parameters: self._average_gradients(ps))

    def _average_gradients(self, parameters: list[torch.Tensor]) -> None:
        grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in parameters]
        flat = torch.cat([g.reshape(-1) for g in grads]) * self._step_weight[0]
        self._collective(lambda: dist.all_reduce(flat))
        for parameter, part in zip(parameters, flat.split([p.numel() for p in parameters])):
            parameter.grad = part.view_as(parameter).to(parameter.dtype)

    def average_buffers(self, model: torch.nn.Module) -> None:
        buffers = [b for b in model.buffers() if b.is_floating_point()]
        if not self.active or not buffers:
            return
        flat = torch.cat([b.reshape(-1).float() for b in buffers])
        self._collective(lambda: dist.all_reduce(flat))
        flat /= self.world_size
        for buffer, part in zip(buffers, flat.split([b.numel() for b in buffers])):
            buffer.copy_(part.view_as(buffer))

    # -- agreeing on numbers -------------------------------------------------------------------
    def sum_values(self, values: dict, device: torch.device) -> dict:
        """Sum each named number over the ranks (the names are the same on every rank)."""
        if not self.active or not values:
            return values
        names = sorted(values)
        flat = torch.stack([torch.as_tensor(values[n], dtype=torch.float64, device=device) for n in names])
        self._collective(lambda: dist.all_reduce(flat))
        return dict(zip(names, flat.tolist()))

    def any(self, flag: bool, device: torch.device) -> bool:
        if not self.active:
            return flag
        flat = torch.tensor([float(flag)], device=device)
        self._collective(lambda: dist.all_reduce(flat, op=dist.ReduceOp.MAX))
        return bool(flat.item())

    def ending(self) -> None:
        """The run is ending: let its last writes finish even if the launcher now ends the group."""
        if self.active:
            signal.signal(signal.SIGTERM, signal.SIG_IGN)

    def _collective(self, operation) -> None:
        try:
            operation()
        except (RuntimeError, dist.DistError) as error:
            raise DistributedError(f"{PEER_LOST} ({type(error).__name__}).") from error


SOLO = Group()


def _floating_state(model: torch.nn.Module) -> list[torch.Tensor]:
    return [t for t in (*model.parameters(), *model.buffers()) if t.is_floating_point()]


def launched_by_torchrun() -> bool:
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def current() -> Group:
    """The group this process trains in: SOLO unless ``start`` joined one."""
    if not (dist.is_available() and dist.is_initialized()):
        return SOLO
    return Group(rank=dist.get_rank(), world_size=dist.get_world_size(),
                 local_rank=int(os.environ.get("LOCAL_RANK", "0")))


def start(device_preference: str = "auto", timeout_s: float = 600) -> Group:
    """Join the process group torchrun described in the environment; SOLO for one process."""
    if not launched_by_torchrun():
        return SOLO
    if dist.is_initialized():
        return current()
    device = Group(world_size=int(os.environ["WORLD_SIZE"]), local_rank=int(os.environ.get("LOCAL_RANK", "0")))\
        .device_for(pick_device(device_preference))
    if device.type == "mps":
        raise ValueError("Training across processes needs CUDA GPUs or the CPU; MPS cannot join a process group")
    if device.type == "cuda":
        torch.cuda.set_device(device)
    dist.init_process_group("nccl" if device.type == "cuda" else "gloo", timeout=timedelta(seconds=timeout_s),
                            device_id=device if device.type == "cuda" else None)
    signal.signal(signal.SIGTERM, _terminated)
    return current()


def _terminated(signum, frame) -> None:
    # torchrun ends the other ranks with SIGTERM when one fails; turn it into an error the
    # Trainer records (rank 0 writes "failed" into the run's history) instead of a silent death.
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise DistributedError(f"{PEER_LOST} (the launcher ended this process).")


def stop() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
        signal.signal(signal.SIGTERM, signal.SIG_DFL)  # what runs after training (scoring) stops normally


@contextlib.contextmanager
def process_group(device_preference: str = "auto"):
    """``with process_group(device) as group:`` joins torchrun's group (or SOLO) and leaves it after."""
    group = start(device_preference)
    try:
        yield group
    finally:
        stop()


def torchrun_command(train_args: list[str], nproc_per_node: int, nnodes: int = 1, node_rank: int | None = None,
                     rdzv_endpoint: str | None = None, python: str | None = None) -> list[str]:
    """The command line that trains ``python -m gen_core train <train_args>`` on N processes.

    One machine: ``torchrun --standalone --nproc_per_node N -m gen_core train ...``. Several
    machines: the same line on each, with ``--nnodes``, and ``--rdzv-endpoint host:port`` of one of
    them (torchrun's c10d rendezvous assigns the node ranks).
    """
    if isinstance(nproc_per_node, bool) or not isinstance(nproc_per_node, int) or nproc_per_node < 1:
        raise ValueError(f"The number of processes must be a whole number of at least 1, got {nproc_per_node!r}")
    if not isinstance(nnodes, int) or nnodes < 1:
        raise ValueError(f"The number of machines must be a whole number of at least 1, got {nnodes!r}")
    command = [python or sys.executable, "-m", "torch.distributed.run", f"--nproc_per_node={nproc_per_node}"]
    if nnodes == 1:
        command.append("--standalone")
    else:
        if not rdzv_endpoint:
            raise ValueError("Training on several machines needs a rendezvous endpoint host:port")
        command += [f"--nnodes={nnodes}", "--rdzv-backend=c10d", f"--rdzv-endpoint={rdzv_endpoint}"]
        if node_rank is not None:
            command.append(f"--node-rank={node_rank}")
    return [*command, "-m", "gen_core", "train", *train_args]
