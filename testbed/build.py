"""Builds the local control plane's binaries from the Go modules pinned in testbed/go.mod.

The binaries are cached outside the repository in a folder keyed by the pinned versions, and
built only when one is missing. `go install pkg@version` cannot build Kubernetes (its go.mod has
replace directives), so everything is built from this wrapper module instead. helm, for the chart's
tests, is built the same way from its own module, testbed/helm, into a folder keyed by its version.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

TESTBED = Path(__file__).resolve().parent
CACHE_ROOT = Path(
    os.environ.get("DOCKERCLOUD_OPERATOR_CACHE", Path.home() / ".cache" / "dockercloud-operator")
)

# binary name -> Go package, in build order (small ones first, so failures show early).
PACKAGES = {
    "kwok": "sigs.k8s.io/kwok/cmd/kwok",  # built in its own module, testbed/kwok
    "etcd": "go.etcd.io/etcd/server/v3",
    "kube-scheduler": "k8s.io/kubernetes/cmd/kube-scheduler",
    "kube-controller-manager": "k8s.io/kubernetes/cmd/kube-controller-manager",
    "kube-apiserver": "k8s.io/kubernetes/cmd/kube-apiserver",
    "kubectl": "k8s.io/kubernetes/cmd/kubectl",
}
KUBERNETES_BINARIES = {"kube-scheduler", "kube-controller-manager", "kube-apiserver", "kubectl"}
HELM_MODULE = "helm.sh/helm/v3"
HELM_PACKAGE = "helm.sh/helm/v3/cmd/helm"  # built in its own module, testbed/helm
HEARTBEAT_SECONDS = 15.0


@dataclass(frozen=True)
class Versions:
    kubernetes: str
    etcd: str
    kwok: str

    @property
    def cache_key(self) -> str:
        return f"k8s-{self.kubernetes}_etcd-{self.etcd}_kwok-{self.kwok}"


def _module_dir(name: str) -> Path:
    return TESTBED / "kwok" if name == "kwok" else TESTBED


def _required_version(go_mod: Path, module: str) -> str:
    match = re.search(rf"^\s*{re.escape(module)} (v\S+)", go_mod.read_text(), re.MULTILINE)
    if match is None:
        raise RuntimeError(f"{go_mod} does not require {module}")
    return match.group(1)


def pinned_versions() -> Versions:
    """The versions testbed/go.mod and testbed/kwok/go.mod require."""
    return Versions(
        kubernetes=_required_version(TESTBED / "go.mod", "k8s.io/kubernetes"),
        etcd=_required_version(TESTBED / "go.mod", "go.etcd.io/etcd/server/v3"),
        kwok=_required_version(TESTBED / "kwok" / "go.mod", "sigs.k8s.io/kwok"),
    )


def bin_dir(versions: Versions | None = None) -> Path:
    """Where the binaries of these versions live (built or not)."""
    return CACHE_ROOT / (versions or pinned_versions()).cache_key / "bin"


def missing_binaries(directory: Path) -> list[str]:
    return [name for name in PACKAGES if not os.access(directory / name, os.X_OK)]


def _ldflags(name: str, versions: Versions) -> str:
    if name not in KUBERNETES_BINARIES:
        return "-s -w"
    major, minor = versions.kubernetes.lstrip("v").split(".")[:2]
    prefix = "k8s.io/component-base/version"
    stamps = {
        "gitVersion": versions.kubernetes,
        "gitMajor": major,
        "gitMinor": minor,
        "gitTreeState": "clean",
        "buildDate": "1970-01-01T00:00:00Z",
    }
    return " ".join(["-s -w", *(f"-X {prefix}.{key}={value}" for key, value in stamps.items())])


def _run_with_heartbeat(
    command: list[str], cwd: Path, log_path: Path, label: str, say: Callable[[str], None]
) -> int:
    """Runs a quiet, long command and says every few seconds that it is still going."""
    started = time.monotonic()
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command,
            cwd=cwd,
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "CGO_ENABLED": "0"},
        )
        done = threading.Event()

        def heartbeat() -> None:
            while not done.wait(HEARTBEAT_SECONDS):
                say(f"  ... {label}: {time.monotonic() - started:.0f}s")

        thread = threading.Thread(target=heartbeat, daemon=True)
        thread.start()
        try:
            return process.wait()
        finally:
            done.set()
            thread.join()


def ensure_binaries(say: Callable[[str], None] = print) -> Path:
    """Builds whatever binary of the pinned versions is missing; returns their folder."""
    versions = pinned_versions()
    target = bin_dir(versions)
    missing = missing_binaries(target)
    if not missing:
        return target
    if shutil.which("go") is None:
        raise SystemExit(
            "Go 1.24+ is needed to build the local control plane (`go` is not on PATH)."
        )
    target.mkdir(parents=True, exist_ok=True)
    say(
        f"Building the local control plane into {target} "
        f"(Kubernetes {versions.kubernetes}, etcd {versions.etcd}, kwok {versions.kwok}); "
        "a cold build takes 5-10 minutes on 2 cores, more while modules download."
    )
    log_dir = target.parent / "build-logs"
    log_dir.mkdir(exist_ok=True)
    total_started = time.monotonic()
    for index, name in enumerate(missing, start=1):
        label = f"[{index}/{len(missing)}] {name}"
        say(f"{label} building {PACKAGES[name]}")
        started = time.monotonic()
        ldflags = _ldflags(name, versions)
        _go_build(name, PACKAGES[name], _module_dir(name), ldflags, target, log_dir, label, say)
        say(f"{label} done in {time.monotonic() - started:.0f}s")
    say(f"Control plane built in {time.monotonic() - total_started:.0f}s.")
    return target


def _go_build(
    name: str,
    package: str,
    module_dir: Path,
    ldflags: str,
    target: Path,
    log_dir: Path,
    label: str,
    say: Callable[[str], None],
) -> None:
    """Builds the package, in the module in module_dir, into target/name."""
    # Build to a temporary name and rename, so an interrupted build never looks complete.
    partial = Path(tempfile.mkstemp(prefix=f".{name}.", dir=target)[1])
    command = [
        "go", "build", "-trimpath", "-mod=readonly", "-ldflags", ldflags,
        "-o", str(partial), package,
    ]  # fmt: skip
    log_path = log_dir / f"{name}.log"
    code = _run_with_heartbeat(command, module_dir, log_path, label, say)
    if code != 0:
        partial.unlink(missing_ok=True)
        tail = log_path.read_text(errors="replace").splitlines()[-40:]
        raise SystemExit(
            "\n".join(
                [
                    f"Building {name} failed (exit {code}). Last lines of {log_path}:",
                    *tail,
                    f"The command, run in {module_dir} with CGO_ENABLED=0:",
                    "  " + shlex.join(command),
                ]
            )
        )
    partial.chmod(0o755)
    partial.rename(target / name)


# -- helm, for the chart's tests ----------------------------------------------------------------


def helm_version() -> str:
    """The helm version testbed/helm/go.mod requires."""
    return _required_version(TESTBED / "helm" / "go.mod", HELM_MODULE)


def helm_path(version: str | None = None) -> Path:
    """Where helm of this version lives (built or not)."""
    return CACHE_ROOT / f"helm-{version or helm_version()}" / "bin" / "helm"


def _helm_ldflags(version: str) -> str:
    """The stamps of helm's own Makefile: its version, and the Kubernetes version its client
    libraries speak (client-go v0.N.P is Kubernetes 1.N), which `helm lint` and `helm template`
    assume when no cluster says otherwise."""
    client_go = _required_version(TESTBED / "helm" / "go.mod", "k8s.io/client-go")
    minor = client_go.lstrip("v").split(".")[1]
    stamps = {
        "internal/version.version": version,
        "internal/version.gitTreeState": "clean",
        "pkg/lint/rules.k8sVersionMajor": "1",
        "pkg/lint/rules.k8sVersionMinor": minor,
        "pkg/chartutil.k8sVersionMajor": "1",
        "pkg/chartutil.k8sVersionMinor": minor,
    }
    return " ".join(["-s -w", *(f"-X {HELM_MODULE}/{k}={v}" for k, v in stamps.items())])


def ensure_helm(say: Callable[[str], None] = print) -> Path:
    """Builds helm of the pinned version if it is missing; returns its path."""
    version = helm_version()
    target = helm_path(version)
    if os.access(target, os.X_OK):
        return target
    if shutil.which("go") is None:
        raise SystemExit(f"Go is needed to build helm {version} (`go` is not on PATH).")
    target.parent.mkdir(parents=True, exist_ok=True)
    log_dir = target.parent.parent / "build-logs"
    log_dir.mkdir(exist_ok=True)
    say(
        f"Building helm {version} into {target.parent}; a cold build takes a few minutes, "
        "more while modules download."
    )
    started = time.monotonic()
    ldflags = _helm_ldflags(version)
    _go_build("helm", HELM_PACKAGE, TESTBED / "helm", ldflags, target.parent, log_dir, "helm", say)
    say(f"helm built in {time.monotonic() - started:.0f}s.")
    return target


if __name__ == "__main__":
    # `python -m testbed.build`: the control plane's folder; `python -m testbed.build helm`: helm.
    ensure = ensure_helm if sys.argv[1:] == ["helm"] else ensure_binaries
    print(ensure(lambda line: print(line, flush=True)))
    sys.exit(0)
