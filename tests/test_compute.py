"""The thread policy's choice for given cores and loads, its overrides and their refusals, and the
precision choice (by faking what the CPU reports and what a timing says)."""

from __future__ import annotations

import os

import pytest
import torch

from gen_core import compute
from gen_core.cli import main
from gen_core.compute import ComputeError, choose_precision, choose_threads, thread_policy
from gen_core.run import checkpoint

from conftest import SMALL_AE_ARGS

CPU = torch.device("cpu")


@pytest.mark.parametrize(("cores", "load", "threads"), [
    (2, 0.0, 2),  # idle: every core
    (2, 0.4, 2),
    (2, 1.0, 1),  # one other busy process: the one free core
    (2, 4.0, 1),  # busy (load 4 on 2 cores): one thread, never zero
    (8, 2.6, 5),  # free cores rounded to the nearest: 5.4 -> 5
    (8, 2.4, 6),
    (1, 0.0, 1),
    (16, 100.0, 1),
])
def test_threads_are_the_free_cores_at_least_one(cores, load, threads):
    choice = choose_threads(cores, load)
    assert choice.threads == threads and choice.cores == cores
    assert f"{threads} free" in choice.reason


def test_the_web_server_takes_one_thread_per_request_whatever_the_cores():
    assert choose_threads(64, 0.0, role="server").threads == 1


def test_a_request_is_honoured_but_never_above_the_cores_left():
    assert choose_threads(8, 7.0, requested=4).threads == 4  # asked for: the load does not override it
    capped = choose_threads(2, 0.0, requested=16, requested_by="--threads")
    assert capped.threads == 2 and "capped at the 2 cores" in capped.reason and "--threads" in capped.reason


def test_the_environment_and_the_flag_override_and_the_parent_leaves_fewer_cores(monkeypatch):
    monkeypatch.setattr(compute.os, "sched_getaffinity", lambda pid: {0, 1, 2, 3}, raising=False)
    assert thread_policy(environ={}, load=0.0).threads == 4
    assert thread_policy(environ={compute.CORES_ENV: "1"}, load=0.0).threads == 1  # the job queue's share
    assert thread_policy(environ={compute.THREADS_ENV: "3"}, load=3.9).threads == 3
    assert thread_policy(environ={compute.THREADS_ENV: "3", compute.CORES_ENV: "2"}, load=0.0).threads == 2
    assert thread_policy(flag="1", environ={compute.THREADS_ENV: "3"}, load=0.0).threads == 1


@pytest.mark.parametrize("bad", ["abc", "0", "-2", "1.5", "99999999", ""])
def test_an_absurd_thread_count_is_one_clear_line(bad):
    with pytest.raises(ComputeError, match=r"GEN_CORE_THREADS must be a whole number of threads from 1 to 4096"):
        compute.parse_threads(bad, "$GEN_CORE_THREADS")


def test_the_cli_refuses_a_bad_thread_count_in_one_line(monkeypatch, capsys):
    monkeypatch.setenv(compute.THREADS_ENV, "lots")
    monkeypatch.setattr(compute, "_applied", None)  # as in a fresh process: nothing chosen yet
    assert main(["datasets"]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "GEN_CORE_THREADS" in error and "Traceback" not in error
    monkeypatch.delenv(compute.THREADS_ENV)
    assert main(["datasets", "--threads", "1"]) == 0
    assert torch.get_num_threads() == 1 and compute.applied_threads().reason == "--threads: 1"


def test_the_policy_sets_torch_and_blas_threads_once(monkeypatch):
    monkeypatch.setattr(compute, "_applied", None)
    monkeypatch.setattr(compute, "busy_cores", lambda: 50.0)  # a busy machine
    choice = compute.apply_thread_policy()
    assert choice.threads == 1 and torch.get_num_threads() == 1
    monkeypatch.setattr(compute, "busy_cores", lambda: 0.0)
    assert compute.apply_thread_policy() is choice  # chosen once: a later call does not re-decide


def _stat(*cores: tuple[int, int]) -> str:
    """/proc/stat text whose cpuN lines have these (busy, idle) tick counts (busy split user/system)."""
    lines = ["cpu  1 2 3 4 5 6 7 8 0 0"]
    for number, (busy, idle) in enumerate(cores):
        lines.append(f"cpu{number} {busy - busy // 2} 0 {busy // 2} {idle} 0 0 0 0 0 0")
    return "\n".join(lines + ["intr 12345", "ctxt 999"]) + "\n"


def test_busy_cores_are_measured_now_from_the_kernels_per_core_counters():
    before = _stat((1000, 5000), (1000, 5000), (0, 0))
    # core 0 fully busy, core 1 a quarter busy, core 2 idle, in the sampled interval
    after = _stat((1100, 5000), (1025, 5075), (0, 100))
    assert compute.busy_cores_between(before, after, {0, 1, 2}) == pytest.approx(1.25)
    assert compute.busy_cores_between(before, after, {1, 2}) == pytest.approx(0.25)  # only the cores it may use
    assert compute.busy_cores_between(before, after, {7}) == 0.0  # a core the counters do not list
    # a machine that was busy a minute ago but is idle now gets every core (the load average would say 2)
    idle_now = _stat((1000, 5100), (1000, 5100))
    assert choose_threads(2, compute.busy_cores_between(_stat((1000, 5000), (1000, 5000)), idle_now, {0, 1})).threads == 2


def test_busy_cores_fall_back_to_the_load_average_without_counters(monkeypatch, tmp_path):
    monkeypatch.setattr(compute, "CPU_COUNTERS", "/nonexistent/stat")
    monkeypatch.setattr(compute, "load_average", lambda: 1.5)
    assert compute.busy_cores(seconds=0.0) == 1.5
    garbled = tmp_path / "stat"
    garbled.write_text("cpu0 12 x 7 not numbers\n")
    monkeypatch.setattr(compute, "CPU_COUNTERS", str(garbled))
    assert compute.busy_cores(seconds=0.0) == 1.5  # counters not as expected: the load average again


def test_busy_cores_read_on_this_machine_are_within_its_cores():
    cores = len(os.sched_getaffinity(0))
    assert 0.0 <= compute.busy_cores(seconds=0.05) <= cores


CPUINFO = "processor\t: 0\nflags\t\t: fpu sse avx2 {extra}\n"


def test_bf16_instructions_are_read_from_the_cpu_flags():
    assert compute.cpu_bf16_instructions(CPUINFO.format(extra="avx512f")) == ""
    assert compute.cpu_bf16_instructions(CPUINFO.format(extra="avx512_bf16 amx_bf16")) == "avx512_bf16, amx_bf16"


def test_auto_precision_on_a_cpu_is_bf16_only_where_it_has_the_instructions_and_times_faster():
    timings = {"fp32": 1.0, "bf16": 0.5}
    none = choose_precision("auto", CPU, timings.get, cpu_instructions="")
    assert none.precision == "fp32" and "no bfloat16 instructions" in none.reason
    faster = choose_precision("auto", CPU, timings.get, cpu_instructions="amx_bf16")
    assert faster.precision == "bf16" and "2.00x" in faster.reason
    slower = choose_precision("auto", CPU, {"fp32": 1.0, "bf16": 1.05}.get, cpu_instructions="avx512_bf16")
    assert slower.precision == "fp32"
    assert choose_precision("bf16", CPU, cpu_instructions="").precision == "bf16"  # asked for: honoured
    with pytest.raises(ComputeError, match="precision must be one of auto, fp32, bf16"):
        choose_precision("half", CPU)


def test_a_run_trained_with_a_given_thread_count_records_it_and_loads(tmp_path, monkeypatch):
    monkeypatch.setattr(compute, "_applied", None)
    out = tmp_path / "run"
    assert main(["train", *SMALL_AE_ARGS, "--epochs", "1", "--threads", "1", "--out", str(out)]) == 0
    session = checkpoint.load_run(out).history["compute"][0]  # the history passes the run folder's checks
    assert session["threads"] == 1 and session["threads_reason"] == "--threads: 1"
    assert "load" not in session  # not measured when a count is given
