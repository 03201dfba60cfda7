#!/usr/bin/env bash
# `make run`: the quickstart on the embedded default (SQLite, a temp file),
# with no server needed.
set -euo pipefail
build=${1:-build}
dir=$(mktemp -d /tmp/pgqrs-run.XXXXXX)
trap 'rm -rf "$dir"' EXIT
"$build/examples/quickstart" "sqlite://$dir/quickstart.db"
