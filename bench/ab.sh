#!/usr/bin/env bash
# bench/ab.sh REV [CELLS...]: an A/B of the drain (or, with SCENARIO=enqueue, the
# enqueue) between git revision REV (A) and
# the working tree (B), in one run on one durable PostgreSQL cluster and on SQLite
# files, interleaved (A, B, A, B, ...) so the machine's drift hits both alike.
#   bench/ab.sh main                   cells 1x1 1x50 4x50, 20,000 messages, 3 rounds
#   ROUNDS=5 N=50000 bench/ab.sh HEAD~3 1x10 4x10
#   SCENARIO=enqueue bench/ab.sh main 1x1 4x1 1x100 4x100   (producers x batch)
# REV is built in bench/scratch/ab/ (a git worktree, removed afterwards) with its
# own bench/pgqrs_bench.c, so the API may differ between A and B. Prints each
# round and, per backend and cell, the median msg/s of A and B and B/A.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
REV=${1:?usage: bench/ab.sh REV [CELLS...]}
shift
CELLS=("$@")
((${#CELLS[@]})) || CELLS=(1x1 1x50 4x50)
N=${N:-20000}
ROUNDS=${ROUNDS:-3}
export SCENARIO=${SCENARIO:-drain}
S=$ROOT/bench/scratch/ab
rm -rf "$S"
mkdir -p "$S"
CF="-O2 -g -std=c11 -D_DEFAULT_SOURCE -D_POSIX_C_SOURCE=200809L"

git worktree add -q --detach "$S/a" "$REV"
trap 'git worktree remove --force "$S/a" 2>/dev/null || true' EXIT
make -s -C "$S/a" -j2 lib >/dev/null
cc $CF -I"$S/a/include" -o "$S/bench_A" "$S/a/bench/pgqrs_bench.c" "$S/a/build/libpgqrs.a" \
    $(make -s -C "$S/a" --no-print-directory print-libs)
make -s -j2 lib >/dev/null
cc $CF -Iinclude -o "$S/bench_B" bench/pgqrs_bench.c build/libpgqrs.a $(make -s --no-print-directory print-libs)

cat > "$S/run.sh" <<'RUN'
#!/usr/bin/env bash
set -uo pipefail
S=$1; N=$2; ROUNDS=$3; shift 3
seq=0
for round in $(seq 1 "$ROUNDS"); do
    for cell in "$@"; do
        c=${cell%x*}; b=${cell#*x}
        for v in A B; do
            seq=$((seq + 1))
            psql -X -qAt "$PGQRS_TEST_PG_DSN" -c "CREATE SCHEMA ab_$seq" >/dev/null
            t=$(mktemp -d "$S/t.XXXX")
            echo "postgres $v $cell $("$S/bench_$v" "$SCENARIO" "$PGQRS_TEST_PG_DSN&schema=ab_$seq" "$c" "$b" "$N" "$t" 2>/dev/null | grep '^{' | tail -n 1)"
            rm -rf "$t"; t=$(mktemp -d "$S/t.XXXX")
            echo "sqlite $v $cell $("$S/bench_$v" "$SCENARIO" "sqlite://$S/s_$seq.db" "$c" "$b" "$N" "$t" 2>/dev/null | grep '^{' | tail -n 1)"
            rm -rf "$t" "$S"/s_$seq.db*
        done
    done
done
RUN
chmod +x "$S/run.sh"
echo "bench/ab.sh: $SCENARIO, A = $REV ($(git rev-parse --short "$REV")), B = the working tree; $N messages, $ROUNDS rounds" >&2
scripts/with-postgres.sh --durable "$S/run.sh" "$S" "$N" "$ROUNDS" "${CELLS[@]}" | tee "$S/ab.log"
python3 - "$S/ab.log" <<'PY'
import json, re, statistics, sys
runs = {}
for line in open(sys.argv[1]):
    m = re.match(r"(\w+) ([AB]) (\S+) (\{.*\})", line.strip())
    if m:
        runs.setdefault((m[1], m[3], m[2]), []).append(json.loads(m[4])["msgs_per_s"])
print("\nbackend   cell   A msg/s   B msg/s   B/A")
for (be, cell) in sorted({(k[0], k[1]) for k in runs}):
    a, b = runs.get((be, cell, "A"), []), runs.get((be, cell, "B"), [])
    if a and b:
        ma, mb = statistics.median(a), statistics.median(b)
        print(f"{be:9} {cell:5} {ma:9.0f} {mb:9.0f}   {mb / ma:.3f}")
PY
