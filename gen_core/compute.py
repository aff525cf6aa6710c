"""How this process computes: its thread count (one policy for every process) and its precision.

Threads. The models here are small: a step is a few matrix products of a batch of 128. Split over
two OpenMP threads on a machine whose other cores are busy, every op waits at a barrier for a core
it does not get; on the shared 2-core machine an MLP VAE trained 3-20x slower with two threads than
with one while another process ran. So each process takes the cores it may use
(``os.sched_getaffinity``) less the ones busy now, at least one. Busy is measured over a fifth of a
second from the kernel's per-core counters (``/proc/stat``), not read from the 1-minute load
average: that average trails by minutes, so a job started just after another ended took one thread
on an idle machine and ran at half speed. Where there are no counters (macOS, Windows) the load
average is used.
and the choice is made once, at start-up, by ``apply_thread_policy``: the command line
(``gen_core.cli.main``), the job queue's workers (through the same command line), and the web
server (``role="server"``: one thread per request, sessions run side by side). torch's intra-op
threads and the BLAS libraries' (numpy, scikit-learn's mixture fits) are set together.

Overrides, in order: ``--threads N`` on the command line, ``$GEN_CORE_THREADS``. A parent that
leaves a child only some of the machine (the job queue leaves a core to the web server) says so
with ``$GEN_CORE_CORES``; no choice, not even an override, exceeds the cores left.

Precision. ``fp32``, ``bf16`` (bfloat16 autocast around the forward passes; weights, losses and
metrics stay float32) or ``auto``: bf16 on CUDA GPUs that have it; on a CPU only when it has
bfloat16 instructions (AVX-512 BF16 or AMX) and a short timing of the model's own step shows bf16
faster; float32 otherwise. The choice and its reason are recorded in the run's history.
"""

from __future__ import annotations

import contextlib
import math
import os
import time
from dataclasses import dataclass
from typing import Callable

import torch
from threadpoolctl import threadpool_limits

from gen_core.errors import GenCoreError

THREADS_ENV = "GEN_CORE_THREADS"
CORES_ENV = "GEN_CORE_CORES"
MAX_THREADS = 4096  # anything above is a typo, not a machine
PRECISIONS = ("auto", "fp32", "bf16")
BF16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")
SPEEDUP_NEEDED = 1.1  # bf16 must beat float32 by this much in the timing to be chosen


class ComputeError(GenCoreError, ValueError):
    """A thread count or precision that cannot be used (a bad flag or environment variable)."""


# -- threads ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ThreadChoice:
    threads: int
    cores: int  # the cores this process may use
    load: float | None  # the cores other work kept busy when chosen (None: not measured, a count was given)
    reason: str


def parse_threads(text, source: str) -> int:
    """A thread count from a flag or an environment variable, or a one-line ComputeError."""
    try:
        value = int(str(text).strip())
    except ValueError:
        value = 0
    if not 1 <= value <= MAX_THREADS:
        raise ComputeError(f"{source} must be a whole number of threads from 1 to {MAX_THREADS}, got {str(text)[:40]!r}")
    return value


def usable_cores(environ=os.environ) -> int:
    """Cores this process may run on (its CPU affinity), fewer when its parent left it fewer."""
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # macOS and Windows have no affinity call
        cores = os.cpu_count() or 1
    if environ.get(CORES_ENV, "").strip():
        cores = min(cores, parse_threads(environ[CORES_ENV], f"${CORES_ENV}"))
    return max(1, cores)


def load_average() -> float:
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):
        return 0.0


CPU_COUNTERS = "/proc/stat"
BUSY_SAMPLE_SECONDS = 0.2


def _core_counters(stat_text: str) -> dict[int, tuple[int, int]]:
    """Per core, (all ticks, idle ticks) from /proc/stat's ``cpuN`` lines."""
    counters = {}
    for line in stat_text.splitlines():
        name, *fields = line.split()
        if not (name.startswith("cpu") and name[3:].isdigit()) or len(fields) < 5:
            continue
        ticks = [int(field) for field in fields[:8]]
        counters[int(name[3:])] = (sum(ticks), ticks[3] + ticks[4])  # idle and waiting for I/O
    return counters


def busy_cores_between(before: str, after: str, cores: set[int]) -> float:
    """How many of ``cores`` were busy between two /proc/stat readings (0.0 to len(cores))."""
    first, second = _core_counters(before), _core_counters(after)
    busy = 0.0
    for core in cores & first.keys() & second.keys():
        total = second[core][0] - first[core][0]
        idle = second[core][1] - first[core][1]
        if total > 0:
            busy += min(1.0, max(0.0, 1.0 - idle / total))
    return busy


def busy_cores(seconds: float = BUSY_SAMPLE_SECONDS) -> float:
    """Cores this process may use that other work keeps busy now (the load average where the kernel's
    per-core counters cannot be read)."""
    try:
        allowed = set(os.sched_getaffinity(0))
        with open(CPU_COUNTERS, encoding="ascii") as file:
            before = file.read()
        time.sleep(seconds)
        with open(CPU_COUNTERS, encoding="ascii") as file:
            after = file.read()
        if not allowed & _core_counters(before).keys():
            return load_average()
        return busy_cores_between(before, after, allowed)
    except (AttributeError, OSError, ValueError):  # no affinity call, no counters, or counters not as expected
        return load_average()


def choose_threads(cores: int, load: float | None, requested: int | None = None, role: str = "train",
                   requested_by: str = "") -> ThreadChoice:
    """The thread count for a process that may use ``cores`` cores while ``load`` of them are busy.

    Free cores are ``cores - load`` (``load``: busy cores) rounded to the nearest whole core, at
    least one; an explicit request is honoured up to ``cores``. The web server (``role="server"``) takes one thread.
    """
    if requested is not None:
        threads = min(requested, cores)
        capped = f", capped at the {cores} core{'s' if cores > 1 else ''} left to it" if threads < requested else ""
        return ThreadChoice(threads, cores, load, f"{requested_by or 'requested'}: {requested}{capped}")
    if role == "server":
        return ThreadChoice(1, cores, load, "web server: one thread per request, sessions side by side")
    load = load or 0.0
    free = max(1, min(cores, math.floor(cores - load + 0.5)))
    busy = "idle" if load < 0.5 else f"{load:.1f} busy"
    return ThreadChoice(free, cores, load, f"{cores} core{'s' if cores > 1 else ''}, {busy}: "
                                            f"{free} free")


def thread_policy(flag: int | None = None, role: str = "train", environ=os.environ,
                  load: float | None = None) -> ThreadChoice:
    """The choice for this process now: the flag, else ``$GEN_CORE_THREADS``, else cores and load."""
    cores = usable_cores(environ)
    if flag is not None:
        return choose_threads(cores, load, parse_threads(flag, "--threads"), role, "--threads")
    if environ.get(THREADS_ENV, "").strip():
        requested = parse_threads(environ[THREADS_ENV], f"${THREADS_ENV}")
        return choose_threads(cores, load, requested, role, f"${THREADS_ENV}")
    if role == "server":
        return choose_threads(cores, None, role=role)
    return choose_threads(cores, busy_cores() if load is None else load, role=role)


_applied: ThreadChoice | None = None


def apply_thread_policy(flag: int | None = None, role: str = "train") -> ThreadChoice:
    """Choose this process's threads and set torch's and the BLAS libraries' once; later calls
    return the first choice (a flag given later still replaces it, as a command's own option)."""
    global _applied
    if _applied is not None and flag is None:
        return _applied
    choice = thread_policy(flag, role)
    torch.set_num_threads(choice.threads)
    threadpool_limits(limits=choice.threads)  # numpy's and scikit-learn's BLAS, process-wide
    _applied = choice
    return choice


def applied_threads() -> ThreadChoice:
    """The choice made at start-up (made now by the policy when no entry point made one)."""
    return _applied or apply_thread_policy()


# -- precision -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PrecisionChoice:
    precision: str  # "fp32" or "bf16"
    reason: str


def check_precision(value) -> str:
    if value not in PRECISIONS:
        raise ComputeError(f"precision must be one of {', '.join(PRECISIONS)}; got {str(value)[:40]!r}")
    return value


def cpu_bf16_instructions(cpuinfo: str | None = None) -> str:
    """The CPU's bfloat16 instruction sets named in /proc/cpuinfo ("" when none or unknown)."""
    if cpuinfo is None:
        try:
            with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as file:
                cpuinfo = file.read(200_000)
        except OSError:
            return ""
    flags = next((line.split(":", 1)[1].split() for line in cpuinfo.splitlines() if line.startswith("flags")), [])
    return ", ".join(flag for flag in BF16_CPU_FLAGS if flag in flags)


def choose_precision(requested: str, device: torch.device, time_steps: Callable[[str], float] | None = None,
                     cpu_instructions: str | None = None) -> PrecisionChoice:
    """float32 or bfloat16 autocast for training on ``device``.

    ``time_steps(precision)`` returns seconds for a few steps in that precision (the Trainer times
    its own model); ``auto`` on a CPU with bf16 instructions picks bf16 only when it is at least
    ``SPEEDUP_NEEDED`` times faster there.
    """
    requested = check_precision(requested)
    if requested != "auto":
        return PrecisionChoice(requested, f"{requested} asked for")
    if device.type == "cuda":
        if torch.cuda.is_bf16_supported():
            return PrecisionChoice("bf16", "auto: the GPU has bfloat16")
        return PrecisionChoice("fp32", "auto: this GPU has no bfloat16")
    if device.type != "cpu":
        return PrecisionChoice("fp32", f"auto: float32 on {device.type}")
    instructions = cpu_bf16_instructions() if cpu_instructions is None else cpu_instructions
    if not instructions:
        return PrecisionChoice("fp32", "auto: this CPU has no bfloat16 instructions (AVX-512 BF16, AMX)")
    if time_steps is None:
        return PrecisionChoice("fp32", f"auto: CPU has {instructions}, not timed")
    float32, bfloat16 = time_steps("fp32"), time_steps("bf16")
    speedup = float32 / max(bfloat16, 1e-9)
    chosen = "bf16" if speedup >= SPEEDUP_NEEDED else "fp32"
    return PrecisionChoice(chosen, f"auto: CPU has {instructions}; bf16 timed {speedup:.2f}x float32")


def autocast(precision: str, device: torch.device):
    """The autocast context for forward passes in ``precision`` (none for float32)."""
    if precision == "bf16" and device.type in ("cpu", "cuda"):
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def fused_adam_available(device: torch.device) -> bool:
    """Adam's fused kernel (one kernel for every parameter's update): on the CPU and CUDA."""
    return device.type in ("cpu", "cuda")
