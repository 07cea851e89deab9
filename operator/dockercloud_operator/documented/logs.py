"""Aggregated service logs: container log lines (as the Kubernetes log API writes them with
timestamps) as the documented log messages, every container merged in time order."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

_STAMP = re.compile(
    r"^(?P<seconds>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(?P<fraction>\d+))?"
    r"(?P<zone>Z|[+-]\d{2}:\d{2})$"
)


@dataclass(frozen=True)
class LogLine:
    source: str
    log: str
    seconds: int  # unix time
    nanos: int = 0

    def sort_key(self) -> tuple[int, int]:
        return (self.seconds, self.nanos)


def parse_timestamp(stamp: str) -> tuple[int, int] | None:
    """An RFC 3339 time as the log API writes it (nanoseconds, trailing zeros trimmed) as
    (unix seconds, nanoseconds); None if it is not one."""
    match = _STAMP.match(stamp)
    if not match:
        return None
    zone = "+00:00" if match["zone"] == "Z" else match["zone"]
    moment = datetime.fromisoformat(match["seconds"] + zone)
    fraction = (match["fraction"] or "")[:9].ljust(9, "0")
    return int(moment.timestamp()), int(fraction)


def parse_log_line(source: str, raw: str, fallback: int = 0) -> LogLine:
    """A line of `timestamps=True` output: `<RFC 3339 time> <text>`."""
    stamp, _, text = raw.rstrip("\r\n").partition(" ")
    parsed = parse_timestamp(stamp)
    if parsed is None:  # not timestamped: keep the whole line
        return LogLine(source, raw.rstrip("\r\n"), fallback)
    return LogLine(source, text, *parsed)


def log_message(line: LogLine) -> str:
    """The documented log line. The Kubernetes log API merges a container's stdout and stderr,
    so every line is reported as stdout."""
    return json.dumps(
        {
            "type": "log",
            "source": line.source,
            "log": line.log,
            "streamType": "stdout",
            "timestamp": line.seconds,
        }
    )


def natural_order(text: str) -> list[tuple[int, int | str]]:
    return [(0, int(part)) if part.isdigit() else (1, part) for part in re.split(r"(\d+)", text)]


def container_sources(service: str, pods: Iterable[str], first: int = 1) -> dict[str, str]:
    """Each container's documented source name, `<service>-<n>`: n counts from `first` in the
    order of the pods' names (numbers in names compared as numbers, so a StatefulSet's
    `web-0, web-1, ..., web-10` are web-1, web-2, ..., web-11)."""
    return {
        pod: f"{service}-{number}"
        for number, pod in enumerate(sorted(pods, key=natural_order), start=first)
    }


def has_started(pod: Mapping[str, Any]) -> bool:
    """Whether a pod (as the API serves it) has run its containers: one still `Pending` has no
    log yet, and is numbered when it starts, after every container that was already there."""
    return (pod.get("status") or {}).get("phase") not in (None, "Pending")


def merge_logs(lines: Iterable[LogLine]) -> list[LogLine]:
    """Every container's lines in one stream, oldest first (a stable sort: a container's own
    lines keep their order)."""
    return sorted(lines, key=LogLine.sort_key)


def service_container(service: str, containers: list[str]) -> str:
    """The container of a service's pod whose log is the service's: the one named after the
    workload (the service), else the first."""
    return service if service in containers else containers[0]
