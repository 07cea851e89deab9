"""The operator as users run it (`dockercloud-operator run`), in a process of its own, with what
the benchmark reads of it: memory and CPU time from /proc, and optionally a py-spy profile."""

from __future__ import annotations

import ctypes
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

from bench.cluster import parse_metrics
from testbed.controlplane import free_port
from tests.operator_process import READY_LINE

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:  # in the child, between fork and exec
    """Should the benchmark be killed outright, the kernel stops the operator too."""
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def operator_command() -> list[str]:
    """The console script beside this interpreter (a Python process itself, so its pid is the
    operator's), else the module."""
    script = Path(sys.executable).parent / "dockercloud-operator"
    if script.exists():
        return [str(script), "run"]
    return [sys.executable, "-m", "dockercloud_operator", "run"]


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (all its threads) so far."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat.rsplit(")", 1)[1].split()  # after "pid (comm)"
    utime, stime = int(fields[11]), int(fields[12])  # fields 14 and 15 of proc(5)
    return (utime + stime) / CLOCK_TICKS


class OperatorProcess:
    def __init__(self, kubeconfig: Path, log: Path, metrics_port: int | None = None) -> None:
        self.kubeconfig = kubeconfig
        self.log = log
        # Its own metrics (where the operator serves them) on a port of ours, not the default
        # 8080 that another operator on this machine may hold.
        self.metrics_port = metrics_port or free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.profiler: subprocess.Popen[bytes] | None = None
        self.profile: Path | None = None

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start(self, timeout: float = 60.0) -> float:
        """Starts it; returns the seconds until it logged that it reconciles."""
        started = time.monotonic()
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                operator_command(),
                env={
                    **os.environ,
                    "KUBECONFIG": str(self.kubeconfig),
                    "DOCKERCLOUD_METRICS_PORT": str(self.metrics_port),
                },
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                preexec_fn=_die_with_parent,
            )
        deadline = started + timeout
        while READY_LINE not in self.output():
            self.check_alive()
            if time.monotonic() > deadline:
                raise TimeoutError(f"the operator did not start in {timeout:.0f}s:\n{self.tail()}")
            time.sleep(0.1)
        return time.monotonic() - started

    def check_alive(self) -> None:
        if self.process is not None and self.process.poll() is not None:
            raise RuntimeError(
                f"the operator exited with code {self.process.returncode}:\n{self.tail()}"
            )

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def tail(self, lines: int = 40) -> str:
        return "\n".join(self.output().splitlines()[-lines:])

    def log_summary(self) -> dict[str, int]:
        """Lines of note in its log: applies, deletes, retries, errors, tracebacks."""
        counts: Counter[str] = Counter()
        for line in self.output().splitlines():
            for word, key in (
                ("Applying ", "applies"),
                ("Deleting ", "deletes"),
                ("retrying", "retries"),
                ("Traceback", "tracebacks"),
                ("ERROR", "errors"),
                ("WARNING", "warnings"),
            ):
                if word in line:
                    counts[key] += 1
        return {key: counts.get(key, 0) for key in
                ("applies", "deletes", "retries", "errors", "warnings", "tracebacks")}  # fmt: skip

    def own_metrics(self) -> dict[str, Any] | None:
        """What the operator says of itself at /metrics: reconciles by result, their total
        duration, its API requests by verb; None if it serves no such metrics."""
        url = f"http://127.0.0.1:{self.metrics_port}/metrics"
        try:
            with urllib.request.urlopen(url, timeout=10) as reply:
                text = reply.read().decode()
        except (OSError, urllib.error.URLError):
            return None
        reconciles: Counter[str] = Counter()
        requests: Counter[str] = Counter()
        seconds = 0.0
        for name, labels, value in parse_metrics(text, prefix="dockercloud_operator_"):
            if name == "dockercloud_operator_reconciles_total":
                reconciles[labels.get("result", "")] += int(value)
            elif name == "dockercloud_operator_reconcile_duration_seconds_sum":
                seconds += value
            elif name == "dockercloud_operator_api_requests_total":
                requests[labels.get("verb", "")] += int(value)
        if not reconciles and not requests:
            return None
        return {
            "reconciles": dict(reconciles),
            "reconcile_seconds": round(seconds, 3),
            "api_requests": dict(requests),
        }

    def memory_kib(self) -> dict[str, int]:
        """VmRSS (now) and VmHWM (the peak) of the process, in KiB."""
        fields = {}
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                fields[key] = int(value.split()[0])
        return {"rss_kib": fields["VmRSS"], "peak_kib": fields["VmHWM"]}

    def cpu_seconds(self) -> float:
        """User + system CPU time of the process (all its threads) so far."""
        return cpu_seconds(self.pid)

    def start_profiler(self, output: Path, rate: int = 100) -> None:
        """py-spy record of the operator (collapsed stacks), until `stop_profiler`."""
        py_spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
        if not Path(py_spy).exists():
            raise RuntimeError("py-spy is not installed: .venv/bin/pip install py-spy")
        self.profile = output
        self.profiler = subprocess.Popen(
            [py_spy, "record", "--pid", str(self.pid), "--rate", str(rate), "--format", "raw",
             "--nonblocking", "--threads", "--gil", "--output", str(output)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip

    def stop_profiler(self) -> None:
        profiler = self.profiler
        if profiler is None or profiler.poll() is not None:
            return
        profiler.send_signal(signal.SIGINT)  # py-spy writes its output on Ctrl-C
        try:
            profiler.wait(30)
        except subprocess.TimeoutExpired:
            profiler.kill()
            profiler.wait()

    def stop(self) -> int | None:
        """Stops it as Ctrl-C would (then kills it); returns its exit code."""
        self.stop_profiler()
        process = self.process
        if process is None:
            return None
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        return process.returncode


# Frames every stack shares (the event loop, the thread pool, the entry point): left out of the
# inclusive ranking, where they would only say "everything".
PLUMBING = (
    "asyncio/", "threading.py", "concurrent/futures/", "selectors.py", "<module>",
    "dockercloud_operator/cli/main.py", "kopf/_core/reactor/running.py",
)  # fmt: skip


def profile_summary(path: Path, rate: int = 100, top: int = 20) -> dict[str, Any]:
    """A py-spy collapsed-stack file (`--format raw`, `--threads`) in short: samples by thread
    (the event loop, or the executor threads that make the API calls), and the functions with
    the most samples, inclusive (counted once per stack) and self. Recorded with `--gil`, only
    the thread that holds the GIL is sampled: the samples are the CPU the operator spends in
    Python (without it, a thread blocked reading a TLS socket would count as busy)."""
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    threads: Counter[str] = Counter()
    total = 0
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        thread, *frames = stack.split(";")
        count = int(count_text)
        total += count
        name = thread.partition(": ")[2]
        threads[
            "event loop" if name == "MainThread"
            else "executor (API calls)" if name.startswith("api_")
            else "watches (children, pods)" if name.startswith("watch-")
            else "other"
        ] += count  # fmt: skip
        for frame in set(frames):
            if not any(part in frame for part in PLUMBING):
                inclusive[frame] += count
        if frames:
            own[frames[-1]] += count

    def share(count: int) -> float:
        return round(100 * count / max(1, total), 1)

    return {
        "samples": total,
        "seconds": round(total / rate, 1),
        "threads_percent": {name: share(count) for name, count in threads.most_common()},
        "top_inclusive_percent": {f: share(c) for f, c in inclusive.most_common(top)},
        "top_self_percent": {f: share(c) for f, c in own.most_common(top)},
    }
