#!/usr/bin/env bash
# Checks (and where Debian can provide it, installs) what `make` needs: Python 3.11+ with venv,
# and Go 1.24+ to build the local control plane.
set -euo pipefail
python=${PYTHON:-python3}
fail() { echo "prerequisite missing: $*" >&2; exit 1; }
as_root_apt() { [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; }

command -v "$python" >/dev/null || fail "Python 3.11+ ($python is not on PATH)"
"$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' ||
  fail "Python 3.11+ ($python is $("$python" --version 2>&1))"
if ! "$python" -c 'import venv, ensurepip' 2>/dev/null; then
  as_root_apt || fail "the venv module of $python (Debian: apt-get install python3-venv)"
  echo "Installing python3-venv (Debian package)"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv
fi

command -v go >/dev/null || fail "Go 1.24+ (https://go.dev/doc/install), to build the local control plane"
go_version=$(go env GOVERSION)
printf '%s\n' go1.24 "$go_version" | sort -V -C ||
  fail "Go 1.24+ to build the local control plane (found $go_version)"
