"""Training jobs for the app: a worker process per run, and a fair queue in front of them.

A job is ``python -m gen_core train ...`` in a process of its own (gen_core.serve.worker): a crash, an
out-of-memory kill or a hang there never takes the web server down, and page reruns do not compete
with training for one interpreter. At most ``limit`` jobs train at once (default: one per GPU, one
on a CPU-only machine); the others wait in the order they came, at most one waiting job per owner,
so nobody can fill the queue. A supervisor thread starts waiting jobs as slots free and notices
workers that end; one that died without saying why gets the reason written into its run folder.
What a job trains is a ``TrainingRequest`` (gen_core.run.start): the queue writes it to a file
for the worker, ``python -m gen_core train --request FILE``. The run's live status, sample grids
and stop requests go through the run folder (gen_core.run.live).

``default_queue()`` is the one queue of the server process, shared by every browser session.
"""

from __future__ import annotations

import atexit
import itertools
import os
import signal
import threading
import time
import traceback
from collections import deque
from dataclasses import dataclass, field, replace
from enum import Enum
from pathlib import Path
from subprocess import Popen

from gen_core.atomic import disk_errors
from gen_core.compute import usable_cores
from gen_core.errors import GenCoreError
from gen_core.places import JOBS_DIR, default_root
from gen_core.run import layout, live
from gen_core.run.start import TrainingRequest, discard_unused
from gen_core.serve import worker
from gen_core.training.events import FINAL_STATUSES, RunStatus


class JobState(str, Enum):
    QUEUED = "queued"
    STARTING = "starting"
    RUNNING = "running"
    ENDED = "ended"

    def __str__(self) -> str:
        return self.value


QUEUED, STARTING, RUNNING, ENDED = JobState.QUEUED, JobState.STARTING, JobState.RUNNING, JobState.ENDED
CANCELLED = "cancelled"  # how a job that never started ended (besides the run statuses)
STOP_GRACE = 60.0  # seconds a worker has to honour a stop request before it is terminated
KEEP_ENDED = 50  # ended jobs remembered, so a page can still say how its job ended
KEEP_LOGS = 200  # worker logs kept in the jobs folder, newest first
# Seconds from starting a worker to its first training step (importing torch, loading the data), until
# this queue has timed its own: measured on an idle 2-core CPU (bench/bench_estimates.py); under load
# it grows, which the learned value then shows.
TYPICAL_STARTUP_S = 6.0


class QueueError(GenCoreError):
    """A job cannot be queued (its owner already has one waiting, its run folder is taken...)."""


@dataclass
class JobRequest:
    """What to train (``training``) and for whom."""

    training: TrainingRequest
    owner: str  # who may stop it: a student's name, or a browser session's token
    owner_label: str = ""  # how others see the owner
    one_waiting: bool = True  # False: this owner may queue several (the demo set)
    person: str = ""  # who is behind the owner (a browser): one waiting job per person, across names
    time_limit: float | None = None  # seconds it may train; then it is stopped and its epochs kept
    memory_limit: int | None = None  # bytes its processes may hold; None: the queue's default

    @property
    def who(self) -> str:
        return self.person or self.owner

    @property
    def run_dir(self) -> Path:
        return self.training.run_dir

    @property
    def epochs(self) -> int:
        return self.training.epochs

    @property
    def processes(self) -> int:
        return self.training.processes

    @property
    def uses_gpu(self) -> bool:
        return self.training.device != "cpu"


@dataclass
class Job:
    id: int
    request: JobRequest
    submitted: float
    state: JobState = QUEUED
    started: float | None = None
    ended: float | None = None
    process: Popen | None = None
    gpus: list[int] = field(default_factory=list)
    stop_requested: float | None = None
    status: str = ""  # once ended: completed, stopped, failed or cancelled
    message: str = ""
    log_path: Path | None = None
    request_file: Path | None = None  # what the worker reads; removed when the job ends
    limit_reason: str = ""  # set when the queue ended it at a limit (time, memory)
    saved_once: bool = False  # its run folder has held a saved epoch


@dataclass(frozen=True)
class JobView:
    """A copy of a job's state for a page; ``place`` is 0 while it trains, 1, 2... while it waits."""

    id: int
    run_dir: Path
    owner: str
    owner_label: str
    state: JobState
    place: int
    processes: int
    epochs: int
    submitted: float
    started: float | None
    ended: float | None
    estimated_start: float | None  # seconds from now, for a waiting job; None when unknown
    stopping: bool
    status: str
    message: str
    pid: int | None
    dataset_path: str = ""  # the folder or upload it trains on, as recorded ("" for the embedded sets)

    @property
    def run_name(self) -> str:
        return self.run_dir.name

    @property
    def is_waiting(self) -> bool:
        return self.state == QUEUED

    @property
    def is_training(self) -> bool:
        return self.state in (STARTING, RUNNING)


def gpu_count() -> int:
    try:
        import torch
        return torch.cuda.device_count()
    except Exception:  # no usable CUDA build or driver: a CPU machine
        return 0


def default_threads(limit: int = 1) -> int | None:
    """The cores left to each worker (its thread policy chooses within them by the load it finds):
    on a machine without a GPU, all cores but one, which is left to the web server (page reruns stay
    quick while a job trains), shared among the ``limit`` jobs that may train at once; with a GPU,
    the worker's own choice."""
    if gpu_count():
        return None
    return max(1, (usable_cores() - 1) // max(1, limit))


def default_memory_limit() -> int:
    """Bytes one job's processes may hold: $LATENT_LAB_JOB_MEMORY_GB, else half the machine's memory."""
    configured = os.environ.get("LATENT_LAB_JOB_MEMORY_GB", "").strip()
    try:
        if configured and float(configured) > 0:
            return int(float(configured) * 2**30)
    except ValueError:
        pass
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2
    except (ValueError, OSError, AttributeError):
        return 8 * 2**30


def default_limit() -> int:
    """Jobs training at once: $LATENT_LAB_MAX_JOBS, else one per GPU, else one."""
    configured = os.environ.get("LATENT_LAB_MAX_JOBS", "").strip()
    if configured.isdigit() and int(configured) >= 1:
        return int(configured)
    return max(1, gpu_count())


class JobQueue:
    def __init__(self, limit: int | None = None, work_dir: Path | None = None, nice: int = 5,
                 threads: int | None = 0, gpus: list[int] | None = None, poll: float = 0.25,
                 memory_limit: int | None = 0) -> None:
        """``nice``: how much lower a worker's CPU priority is than the server's; ``threads``: a
        worker's torch threads (0: ``default_threads()``, None: torch's choice); ``memory_limit``:
        bytes one job's processes may hold (0: ``default_memory_limit()``, None: no limit)."""
        self.limit = max(1, limit or default_limit())
        self.memory_limit = default_memory_limit() if memory_limit == 0 else memory_limit
        self._seconds_used: dict[str, float] = {}  # training seconds per owner since the server started
        self._adopted: list[Path] = []  # run folders still trained by workers of an earlier server process
        self._adopted_checked = 0.0
        self._memory_checked = 0.0
        self.nice, self.poll = nice, poll
        self.threads = default_threads(self.limit) if threads == 0 else threads
        self._work_dir = work_dir
        self._free_gpus = list(range(gpu_count())) if gpus is None else list(gpus)
        self._jobs: list[Job] = []
        self._ids = itertools.count(1)
        self._lock = threading.RLock()
        self._wake = threading.Event()
        self._closed = False
        self._thread: threading.Thread | None = None
        self._epoch_seconds: deque[float] = deque(maxlen=20)  # recent jobs' seconds per epoch
        self._startup_seconds: deque[float] = deque(maxlen=20)  # recent workers' start-up to their first step

    # -- asking ----------------------------------------------------------------------------------
    def submit(self, request: JobRequest) -> JobView:
        """Queue a job; it starts at once when a slot is free (within a fraction of a second)."""
        run_dir = Path(request.run_dir).resolve()
        with self._lock:
            if self._closed:
                raise QueueError("The job runner is shutting down")
            for job in self._jobs:
                if job.state != ENDED and Path(job.request.run_dir).resolve() == run_dir:
                    raise QueueError(f"{run_dir.name} already has a job {'waiting' if job.state == QUEUED else 'training'}")
                if job.state == QUEUED and job.request.who == request.who and request.one_waiting \
                        and job.request.one_waiting:
                    raise QueueError(f"You already have a job waiting ({job.request.run_dir.name}, place "
                                     f"{self._place(job)}); cancel it or wait until it starts")
            if live.is_training(run_dir):
                raise QueueError(f"{run_dir.name} is being trained by another process")
            work_dir = self._jobs_folder()
            training = replace(request.training, run_dir=run_dir)
            job = Job(next(self._ids), replace(request, training=training), time.time())
            job.log_path = work_dir / f"{run_dir.name}-{job.id}.log"
            with disk_errors("queue the job"):
                job.request_file = training.write(work_dir / f"{run_dir.name}-{job.id}.json")
            self._jobs.append(job)
            self._ensure_supervisor()
        self._wake.set()
        return self.view(job.id)

    def stop(self, job_id: int) -> str:
        """Cancel a waiting job at once ("cancelled"), or ask a training one to stop after its current
        step ("stopping"); "" when the job has already ended."""
        with self._lock:
            job = self._job(job_id)
            if job is None or job.state == ENDED:
                return ""
            if job.state == QUEUED:
                self._end(job, CANCELLED, "Cancelled before it started.")
                return CANCELLED
            if job.stop_requested is None:
                job.stop_requested = time.time()
                if self._writer_attached(job):
                    live.request_stop(job.request.run_dir)
                else:  # still starting up: nothing trained yet, so end it now
                    worker.signal_group(job.process, signal.SIGTERM)
        self._wake.set()
        return "stopping"

    def seconds_used(self, owner: str) -> float:
        """Seconds ``owner``'s jobs have trained since the server started (those training count so far)."""
        with self._lock:
            now = time.time()
            running = sum(now - j.started for j in self._jobs if j.request.owner == owner and j.started
                          and j.state in (STARTING, RUNNING))
            return self._seconds_used.get(owner, 0.0) + running

    def startup_seconds(self) -> float:
        """Seconds a new job spends starting before it trains: the median of this queue's recent
        workers, or ``TYPICAL_STARTUP_S`` before the first has trained. Estimates of a student's
        wait add it to the training time."""
        with self._lock:
            recent = sorted(self._startup_seconds)
        return recent[len(recent) // 2] if recent else TYPICAL_STARTUP_S

    def adopted(self) -> list[Path]:
        """Run folders still trained by workers an earlier server process started (counted as busy slots)."""
        with self._lock:
            return list(self._adopted)

    def jobs(self, include_ended: bool = True) -> list[JobView]:
        """Training jobs first, then waiting ones in order, then recently ended ones (newest first)."""
        with self._lock:
            order = ([j for j in self._jobs if j.state in (STARTING, RUNNING)] +
                     [j for j in self._jobs if j.state == QUEUED] +
                     (sorted((j for j in self._jobs if j.state == ENDED), key=lambda j: -(j.ended or 0))
                      if include_ended else []))
            estimates = self._estimated_starts()
            return [self._view(job, estimates) for job in order]

    def view(self, job_id: int) -> JobView | None:
        with self._lock:
            job = self._job(job_id)
            return None if job is None else self._view(job, self._estimated_starts())

    def wait(self, job_id: int, timeout: float = 600.0) -> JobView:
        """Block until the job has ended (for scripts and tests)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            view = self.view(job_id)
            if view is None or view.state == ENDED:
                return view
            time.sleep(0.05)
        raise TimeoutError(f"job {job_id} still running after {timeout} s")

    def close(self, stop_running: bool = True, timeout: float = 0.0) -> None:
        """Cancel waiting jobs, ask training ones to stop, and end the supervisor (waiting up to
        ``timeout`` seconds for workers to finish)."""
        with self._lock:
            for job in list(self._jobs):
                if job.state != ENDED and (stop_running or job.state == QUEUED):
                    self.stop(job.id)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and any(j.state != ENDED for j in self._jobs):
            self._wake.set()
            time.sleep(0.05)
        self._closed = True
        self._wake.set()

    # -- the supervisor ----------------------------------------------------------------------------
    def _ensure_supervisor(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._supervise, name="job-supervisor", daemon=True)
            self._thread.start()

    def _supervise(self) -> None:
        while not self._closed:
            self._wake.wait(self.poll)
            self._wake.clear()
            try:
                self._tick()
            except Exception:  # the supervisor must outlive any one job's surprise
                traceback.print_exc()

    def _tick(self) -> None:
        with self._lock:
            now = time.time()
            self._adopt_workers(now)
            check_memory = now - self._memory_checked >= 1.0
            if check_memory:
                self._memory_checked = now
            for job in [j for j in self._jobs if j.state in (STARTING, RUNNING)]:
                return_code = job.process.poll()
                if return_code is not None:
                    self._reap(job, return_code)
                    continue
                if job.state == STARTING and self._writer_attached(job):
                    job.state = RUNNING
                self._hold_to_limits(job, now, check_memory)
                if job.stop_requested is not None and now - job.stop_requested > STOP_GRACE:
                    hard = now - job.stop_requested > STOP_GRACE + 10
                    worker.signal_group(job.process, signal.SIGKILL if hard else signal.SIGTERM)
            self._start_waiting()
            ended = [j for j in self._jobs if j.state == ENDED]
            for job in ended[:-KEEP_ENDED]:
                self._jobs.remove(job)

    def _hold_to_limits(self, job: Job, now: float, check_memory: bool) -> None:
        """Stop a job at its wall-clock limit (its epochs are kept), kill one past its memory limit, and
        stop one whose run folder was removed while it trained."""
        request = job.request
        # Only a folder that held a saved epoch counts as removed: a run that fails before its first
        # save removes its own empty folder on the way out, and must still end as failed.
        job.saved_once = job.saved_once or (request.run_dir / layout.WEIGHTS_FILE).exists()
        if job.stop_requested is None and job.state == RUNNING and job.saved_once and not request.run_dir.is_dir():
            job.limit_reason = "Its run folder was removed while it trained, so it was stopped."
            job.stop_requested = now
            worker.signal_group(job.process, signal.SIGTERM)
        elif job.stop_requested is None and request.time_limit and job.started \
                and now - job.started > request.time_limit:
            job.limit_reason = (f"Stopped at the time limit of {request.time_limit / 60:.0f} minutes per job on "
                                "this server.")
            job.stop_requested = now
            live.request_stop(request.run_dir)
        limit = request.memory_limit or self.memory_limit
        if check_memory and limit and not job.limit_reason.startswith("It used"):
            used = worker.memory_used(job.process.pid)
            if used > limit:
                job.limit_reason = (f"It used {used / 2**30:.1f} GB of memory, more than the {limit / 2**30:.1f} GB "
                                    "one job may use on this server: use a smaller batch, model or image size.")
                worker.signal_group(job.process, signal.SIGKILL)

    def _adopt_workers(self, now: float) -> None:
        """Workers a previous server process started and that still train hold their slots: found once
        at start-up through the request files it left in the jobs folder, and then kept until they end."""
        if now - self._adopted_checked < 2.0:
            return
        first = not self._adopted_checked
        self._adopted_checked = now
        if first:
            ours = {job.request_file for job in self._jobs}
            for request_file in sorted(self._jobs_folder().glob("*.json")):
                if request_file in ours:
                    continue
                try:
                    run_dir = TrainingRequest.read(request_file).run_dir
                except GenCoreError:
                    continue
                if live.is_training(run_dir):
                    self._adopted.append(run_dir)
                else:
                    request_file.unlink(missing_ok=True)
        self._adopted = [run_dir for run_dir in self._adopted if live.is_training(run_dir)]

    def _jobs_folder(self) -> Path:
        return Path(self._work_dir or default_root() / JOBS_DIR)

    def _start_waiting(self) -> None:
        for job in [j for j in self._jobs if j.state == QUEUED]:
            if self._slots_needed(job) > self.limit - self._slots_used():
                return  # first come, first served: nobody overtakes the job at the head
            self._spawn(job)

    def _spawn(self, job: Job) -> None:
        request = job.request
        if request.uses_gpu and self._free_gpus:
            job.gpus = self._free_gpus[:request.processes]
            del self._free_gpus[:len(job.gpus)]
        live.clear_stop(request.run_dir)
        job.state, job.started = STARTING, time.time()
        try:
            job.process = worker.start_worker(worker.train_command(["--request", str(job.request_file)],
                                                                   request.processes),
                                              job.log_path, worker.worker_environment(self.threads, job.gpus or None),
                                              nice=self.nice)
        except OSError as error:
            self._end(job, RunStatus.FAILED.value, f"The training process could not start: {error.strerror or error}")

    def _reap(self, job: Job, return_code: int) -> None:
        """A worker ended: take its own word for how, or write the reason it could not give."""
        run_dir = job.request.run_dir
        recorded = live.read_status(run_dir) if self._writer_attached(job) else None
        status = recorded["status"] if recorded else ""
        if status in FINAL_STATUSES:
            message = str(recorded.get("message", ""))
            metrics = recorded.get("metrics") if isinstance(recorded.get("metrics"), dict) else {}
            if status == RunStatus.COMPLETED and metrics.get("state") == "computing":
                live.record_scoring_failed(run_dir, worker.exit_reason(return_code, job.log_path))
            self._learn_epoch_time(recorded)
            self._learn_startup(recorded, job.started)
        if job.limit_reason and run_dir.is_dir():  # said in its own words, whatever the worker wrote
            status = RunStatus.FAILED.value if job.limit_reason.startswith("It used") else RunStatus.STOPPED.value
            kept = " The saved epochs are kept." if (run_dir / layout.WEIGHTS_FILE).exists() else ""
            message = job.limit_reason + kept
            live.record_end(run_dir, status, message)
        elif job.limit_reason:  # its folder is gone: nothing to write into (writing would re-create it)
            status, message = RunStatus.STOPPED.value, job.limit_reason
        elif status in FINAL_STATUSES:
            pass
        elif job.stop_requested is not None:
            status, message = RunStatus.STOPPED.value, "Stopped before the end of its first epoch." if not \
                (run_dir / layout.WEIGHTS_FILE).exists() else "Stopped; the saved epochs are kept."
            live.record_end(run_dir, status, message)
        else:
            status, message = RunStatus.FAILED.value, worker.exit_reason(return_code, job.log_path)
            live.record_end(run_dir, status, message)
        self._end(job, status, message)

    def _end(self, job: Job, status: str, message: str) -> None:
        job.state, job.ended, job.status, job.message = ENDED, time.time(), status, message
        if job.started is not None:
            owner = job.request.owner
            self._seconds_used[owner] = self._seconds_used.get(owner, 0.0) + job.ended - job.started
        self._free_gpus = sorted(self._free_gpus + job.gpus)
        if job.request_file is not None:
            job.request_file.unlink(missing_ok=True)
        discard_unused(job.request.run_dir)
        if job.log_path is not None:
            worker.prune_logs(job.log_path.parent, KEEP_LOGS)

    # -- helpers -----------------------------------------------------------------------------------
    def _job(self, job_id: int) -> Job | None:
        return next((job for job in self._jobs if job.id == job_id), None)

    def _writer_attached(self, job: Job) -> bool:
        """Has this job's worker (not an earlier process of the same run) written its progress file?"""
        progress = live.read_status(job.request.run_dir)
        writer = progress.get("writer") if progress and isinstance(progress.get("writer"), dict) else {}
        started = writer.get("started")
        return isinstance(started, (int, float)) and job.started is not None and started >= job.started - 1

    def _slots_needed(self, job: Job) -> int:
        return min(self.limit, max(1, job.request.processes))

    def _slots_used(self) -> int:
        return sum(self._slots_needed(j) for j in self._jobs if j.state in (STARTING, RUNNING)) + len(self._adopted)

    def _place(self, job: Job) -> int:
        waiting = [j for j in self._jobs if j.state == QUEUED]
        return waiting.index(job) + 1 if job in waiting else 0

    def _learn_epoch_time(self, progress: dict) -> None:
        elapsed, step, per_epoch = (progress.get(k) for k in ("elapsed", "step", "steps_per_epoch"))
        if all(isinstance(v, (int, float)) and v > 0 for v in (elapsed, step, per_epoch)):
            self._epoch_seconds.append(elapsed / step * per_epoch)

    def _learn_startup(self, progress: dict, started: float | None) -> None:
        first_step = progress.get("training_started")  # the worker's wall clock (gen_core.run.writer)
        if isinstance(first_step, (int, float)) and started is not None and 0 <= first_step - started < 3600:
            self._startup_seconds.append(first_step - started)

    def _duration(self, job: Job) -> float | None:
        """Seconds a job will hold its slot: start-up, then its epochs times the recent jobs' time per
        epoch (None when unknown)."""
        if not self._epoch_seconds or not job.request.epochs:
            return None
        return self.startup_seconds() + job.request.epochs * sorted(self._epoch_seconds)[len(self._epoch_seconds) // 2]

    def _estimated_starts(self) -> dict[int, float | None]:
        training = []
        for job in (j for j in self._jobs if j.state in (STARTING, RUNNING)):
            progress = live.read_status(job.request.run_dir) if job.state == RUNNING else None
            left = progress.get("eta_seconds") if progress else None
            training.append((self._slots_needed(job), left if isinstance(left, (int, float)) else self._duration(job)))
        waiting = [(job.id, self._slots_needed(job), self._duration(job)) for job in self._jobs if job.state == QUEUED]
        return estimate_starts(training, waiting, self.limit)

    def _view(self, job: Job, estimates: dict[int, float | None]) -> JobView:
        request = job.request
        return JobView(job.id, request.run_dir, request.owner, request.owner_label or request.owner, job.state,
                       self._place(job), request.processes, request.epochs, job.submitted, job.started, job.ended,
                       estimates.get(job.id), job.stop_requested is not None, job.status, job.message,
                       job.process.pid if job.process is not None else None,
                       str(request.training.dataset_options.get("path") or ""))


def estimate_starts(training: list[tuple[int, float | None]], waiting: list[tuple[int, int, float | None]],
                    slots: int) -> dict[int, float | None]:
    """When each waiting job should start, in seconds from now, playing the queue forward: a training
    job (slots, seconds left) frees its slots when it ends, a waiting one (id, slots, duration) takes
    the earliest free ones in turn. None where something ahead has no estimate."""
    free_at: list[float | None] = [left for used, left in training for _ in range(used)]
    free_at += [0.0] * max(0, slots - len(free_at))
    starts = {}
    for job_id, need, duration in waiting:
        free_at.sort(key=lambda t: float("inf") if t is None else t)
        start = None if None in free_at[:need] else max(free_at[:need])
        free_at[:need] = [None if start is None or duration is None else start + duration] * need
        starts[job_id] = start
    return starts


_default_queue: JobQueue | None = None
_default_lock = threading.Lock()


def default_queue() -> JobQueue:
    """The server process's queue (created on first use; its workers are asked to stop at exit)."""
    global _default_queue
    with _default_lock:
        if _default_queue is None or _default_queue._closed:
            _default_queue = JobQueue()
            atexit.register(_default_queue.close)
        return _default_queue
