#!/usr/bin/env bash
# Runs a command with PGQRS_TURSODB set to Turso's own server, tursodb, which
# speaks Hrana over HTTP with `--sync-server ADDR`. It is installed with npm into
# .tools/turso (git-ignored) on first use and cached there. The test harness
# starts one `tursodb FILE --sync-server 127.0.0.1:PORT` per fresh database (a
# temp file, a free loopback port) and stops it by PID when the test ends.
#   scripts/with-turso.sh build/test_queue          (with PGQRS_TEST_BACKEND=turso)
set -euo pipefail
cd "$(dirname "$0")/.."
ver=0.7.0
pkg=@tursodatabase/cli-linux-x64-gnu
dir=.tools/turso
bin=$dir/node_modules/$pkg/tursodb
if [ ! -x "$bin" ] || ! grep -q "\"version\": *\"$ver\"" "$dir/node_modules/$pkg/package.json" 2>/dev/null; then
    if ! command -v npm >/dev/null; then
        [ "$(id -u)" = 0 ] || { echo "with-turso: npm is missing (apt-get install npm)" >&2; exit 1; }
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq npm >&2 ||
            { apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq npm >&2; }
    fi
    mkdir -p "$dir"
    echo "with-turso: installing $pkg@$ver into $dir" >&2
    npm install --prefix "$dir" --no-audit --no-fund --loglevel=error "$pkg@$ver" >&2
fi
"$bin" --version >/dev/null 2>&1 || { echo "with-turso: $bin does not run" >&2; exit 1; }
export PGQRS_TURSODB=$PWD/$bin
exec "$@"
