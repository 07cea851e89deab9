"""What a run found: per scenario, its sizes, what was checked, and every failure with its
evidence. Printed, and written as JSON (`chaos/results/report.json` by default)."""

from __future__ import annotations

import json
import platform
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"


@dataclass
class Failure:
    scenario: str
    check: str  # what did not hold
    detail: str  # one line
    evidence: str = ""  # a traceback, the objects, the spec: whatever shows it


@dataclass
class ScenarioResult:
    name: str
    sizes: dict[str, Any] = field(default_factory=dict)
    rounds: int = 0  # fault rounds run
    rounds_survived: int = 0  # rounds after which the operator was up and (when checked) right
    services: int = 0
    objects_checked: int = 0
    examples: int = 0  # fuzzed specs tried
    accepted: int = 0
    rejected: int = 0
    notes: list[str] = field(default_factory=list)  # numbers worth knowing that are no failure
    failures: list[Failure] = field(default_factory=list)
    seconds: float = 0.0

    def fail(self, check: str, detail: str, evidence: str = "") -> Failure:
        failure = Failure(self.name, check, detail, evidence[:6000])
        self.failures.append(failure)
        return failure

    def note(self, text: str) -> None:
        self.notes.append(text)


@dataclass
class Report:
    started: str = field(default_factory=lambda: time.strftime("%Y-%m-%dT%H:%M:%S%z"))
    seed: int = 0
    options: dict[str, Any] = field(default_factory=dict)  # the command line's knobs
    machine: str = field(default_factory=lambda: f"{platform.machine()}, {_cpus()} CPUs")
    scenarios: list[ScenarioResult] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def failures(self) -> list[Failure]:
        return [f for s in self.scenarios for f in s.failures]

    def totals(self) -> dict[str, int]:
        return {
            "rounds": sum(s.rounds for s in self.scenarios),
            "rounds_survived": sum(s.rounds_survived for s in self.scenarios),
            "services": sum(s.services for s in self.scenarios),
            "objects_checked": sum(s.objects_checked for s in self.scenarios),
            "examples": sum(s.examples for s in self.scenarios),
            "failures": len(self.failures),
        }

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "totals": self.totals()}

    def write(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.as_dict(), indent=2) + "\n")

    def text(self) -> str:
        lines = [f"Fault suite, seed {self.seed}, {self.machine}, {self.seconds:.0f}s"]
        if self.options.get("skip_mutations"):
            lines.append(f"  (roll-outs without these changes: {self.options['skip_mutations']})")
        header = (
            f"  {'scenario':<22} {'rounds':>9} {'services':>8} {'objects':>8} "
            f"{'examples':>8} {'failures':>8} {'seconds':>7}"
        )
        lines.append(header)
        for s in self.scenarios:
            rounds = f"{s.rounds_survived}/{s.rounds}" if s.rounds else "-"
            examples = f"{s.examples}" if s.examples else "-"
            lines.append(
                f"  {s.name:<22} {rounds:>9} {s.services:>8} {s.objects_checked:>8} "
                f"{examples:>8} {len(s.failures):>8} {s.seconds:>7.0f}"
            )
        t = self.totals()
        lines.append(
            f"  {'total':<22} {t['rounds_survived']:>4}/{t['rounds']:<4} {t['services']:>8} "
            f"{t['objects_checked']:>8} {t['examples']:>8} {t['failures']:>8} "
            f"{self.seconds:>7.0f}"
        )
        for s in self.scenarios:
            for note in s.notes:
                lines.append(f"  note [{s.name}]: {note}")
        for failure in self.failures:
            lines.append(f"FAILURE [{failure.scenario}] {failure.check}: {failure.detail}")
            if failure.evidence:
                lines.extend("    " + line for line in failure.evidence.splitlines()[:40])
        return "\n".join(lines)


def _cpus() -> int:
    import os

    return os.cpu_count() or 0
