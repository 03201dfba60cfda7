#!/usr/bin/env bash
# Installs the Debian packages the build and tests need, if any is missing.
# Safe to run repeatedly; does nothing when everything is present.
set -euo pipefail
need=()
have() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }
for p in build-essential clang libpq-dev libsqlite3-dev libjansson-dev libcurl4-openssl-dev \
         postgresql postgresql-contrib python3 python3-pytest python3-croniter python3-psycopg2 valgrind pgbouncer pkg-config \
         libmicrohttpd-dev chromium python3-prometheus-client; do
    have "$p" || need+=("$p")
done
# npm installs Turso's test server (tursodb) into .tools/ for the Turso suites
command -v npm >/dev/null 2>&1 || need+=(npm)
if ((${#need[@]})); then
    if [ "$(id -u)" != 0 ]; then
        echo "deps: missing packages: ${need[*]} (run as root, or install them)" >&2
        exit 1
    fi
    echo "deps: installing ${need[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq "${need[@]}" >&2
fi
