#!/usr/bin/env bash
# End-to-end tests of the pgqrs command-line tool: runs the binary against a real
# database and checks exit codes, stdout (text and JSON) and stderr.
#   tests/cli/test_cli.sh sqlite
#   tests/cli/test_cli.sh postgres        (needs PGQRS_TEST_PG_DSN, e.g. from scripts/with-postgres.sh)
# PGQRS_BIN overrides the binary (default build/pgqrs). A check that cannot run
# here prints "SKIP cli[BACKEND] NAME: why" and is counted as skipped. Prints one
# line "cli: N passed, N failed, N skipped" last and exits non-zero on any failure.
set -uo pipefail
cd "$(dirname "$0")/../.."
backend=${1:-sqlite}
bin=${PGQRS_BIN:-$PWD/build/pgqrs}
passed=0
failed=0
skipped=0
tmp=$(mktemp -d /tmp/pgqrs-cli.XXXXXX)
schema=""

cleanup() {
    if [ -n "$schema" ]; then
        psql "$PGQRS_TEST_PG_DSN" -qAt -c "DROP SCHEMA IF EXISTS $schema CASCADE" >/dev/null 2>&1 || true
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT

case "$backend" in
sqlite)
    DSN="sqlite://$tmp/cli.db"
    ;;
postgres)
    if [ -z "${PGQRS_TEST_PG_DSN:-}" ]; then
        echo "test_cli: PGQRS_TEST_PG_DSN is not set (run under scripts/with-postgres.sh)" >&2
        echo "cli: 0 passed, 1 failed, 0 skipped"
        exit 1
    fi
    schema="cli_$$"
    if ! psql "$PGQRS_TEST_PG_DSN" -qAt -c "CREATE SCHEMA $schema" >/dev/null; then
        echo "cli: 0 passed, 1 failed, 0 skipped"
        exit 1
    fi
    case "$PGQRS_TEST_PG_DSN" in
    *\?*) DSN="$PGQRS_TEST_PG_DSN&schema=$schema" ;;
    *) DSN="$PGQRS_TEST_PG_DSN?schema=$schema" ;;
    esac
    ;;
*)
    echo "usage: $0 sqlite|postgres" >&2
    exit 1
    ;;
esac
export PGQRS_DSN="$DSN"
[ -x "$bin" ] || { echo "test_cli: $bin not built (make cli)" >&2; echo "cli: 0 passed, 1 failed, 0 skipped"; exit 1; }

# ---- helpers ------------------------------------------------------------------------
# run [ARGS...]: runs the binary with stdin from /dev/null; sets out, err, rc.
# run_in INPUT [ARGS...]: the same with INPUT on stdin.
run() {
    "$bin" "$@" </dev/null >"$tmp/out" 2>"$tmp/err"
    rc=$?
    out=$(cat "$tmp/out")
    err=$(cat "$tmp/err")
}
run_in() {
    local input=$1
    shift
    printf '%s' "$input" | "$bin" "$@" >"$tmp/out" 2>"$tmp/err"
    rc=$?
    out=$(cat "$tmp/out")
    err=$(cat "$tmp/err")
}
run_file() {   # run_file FILE [ARGS...]: stdin from FILE
    local file=$1
    shift
    "$bin" "$@" <"$file" >"$tmp/out" 2>"$tmp/err"
    rc=$?
    out=$(cat "$tmp/out")
    err=$(cat "$tmp/err")
}

pass() { passed=$((passed + 1)); }
skip() { skipped=$((skipped + 1)); echo "SKIP cli[$backend] $1: $2"; }
fail() {
    failed=$((failed + 1))
    echo "FAIL [$backend] $1" >&2
    echo "    exit: $rc" >&2
    [ -n "$out" ] && echo "    stdout: $(head -c 600 <<<"$out")" >&2
    [ -n "$err" ] && echo "    stderr: $(head -c 600 <<<"$err")" >&2
    return 0
}
# expect NAME RC: the last run exited RC; an error (RC != 0) is exactly one line on
# stderr and, on success, nothing on stderr.
expect() {
    local name=$1 want=$2
    if [ "$rc" != "$want" ]; then fail "$name: exit $rc, want $want"; return 1; fi
    if [ "$want" = 0 ] && [ -n "$err" ]; then fail "$name: unexpected stderr"; return 1; fi
    if [ "$want" != 0 ] && [ "$(printf '%s\n' "$err" | grep -c .)" != 1 ]; then
        fail "$name: stderr is not exactly one line"; return 1
    fi
    pass
}
# has NAME TEXT: stdout contains TEXT. err_has NAME TEXT: stderr does.
has() { if grep -qF -- "$2" <<<"$out"; then pass; else fail "$1: stdout lacks '$2'"; fi; }
err_has() { if grep -qF -- "$2" <<<"$err"; then pass; else fail "$1: stderr lacks '$2'"; fi; }
# json NAME PYEXPR: stdout is one JSON document d and PYEXPR (Python) is true.
json() {
    if python3 -c '
import json, sys
d = json.loads(sys.stdin.read())
sys.exit(0 if eval(sys.argv[1]) else 1)' "$2" <<<"$out" 2>"$tmp/pyerr"; then
        pass
    else
        fail "$1: JSON check failed: $2 $(cat "$tmp/pyerr")"
    fi
}
# jget PYEXPR: prints PYEXPR evaluated on the stdout JSON document d.
jget() { python3 -c 'import json,sys; d=json.loads(sys.stdin.read()); print(eval(sys.argv[1]))' "$1" <<<"$out"; }

# ---- version, help, usage ------------------------------------------------------------
run --version
expect "version" 0 && has "version" "pgqrs 0."
run --json --version
expect "version json" 0 && json "version json" 'd["version"].count(".") == 2 and d["version_number"] > 0'
run --help
expect "help" 0 && has "help" "EXIT STATUS" && has "help lists groups" "worker"
run help queue create
expect "help queue create" 0 && has "help queue create" "pgqrs queue create"

for group in install verify queue message dlq worker workflow work; do
    run "$group" --help
    expect "$group --help" 0 && has "$group --help" "SYNOPSIS"
done
for cmd in "queue create" "queue list" "queue get" "queue delete" "queue purge" "queue metrics" \
    "message send" "message send-batch" "message read" "message archive" "message delete" \
    "message release" "message get" "message cancel" "dlq list" "dlq replay" "worker list" "worker health" "worker reclaim" \
    "worker purge-stale" "workflow list" "workflow runs" "workflow run" "workflow cancel" "workflow trigger" \
    "workflow wait" "workflow send" "workflow events" "workflow delete" \
    "queue update" "work"; do
    # shellcheck disable=SC2086
    run $cmd --help
    if expect "$cmd --help" 0; then
        for section in NAME SYNOPSIS DESCRIPTION OPTIONS "EXIT STATUS" EXAMPLE "pgqrs $cmd"; do
            grep -qF "$section" <<<"$out" || { fail "$cmd --help lacks $section"; continue 2; }
        done
        pass
    fi
done
# --help wins over missing arguments and needs no database
PGQRS_DSN= run queue create --help
expect "help without a database" 0

run
expect "no command" 1 && err_has "no command" "missing command"
run frobnicate
expect "unknown command" 1 && err_has "unknown command" "frobnicate"
run queue
expect "missing subcommand" 1 && err_has "missing subcommand" "one of: create"
run queue frob
expect "unknown subcommand" 1
run queue list --frob
expect "unknown option" 1 && err_has "unknown option" "--frob"
run --frob queue list
expect "unknown global option" 1
run queue get
expect "missing argument" 1 && err_has "missing argument names it" "missing NAME"
run queue get a b
expect "extra argument" 1
run message read q --limit abc
expect "malformed integer" 1 && err_has "malformed integer" "--limit"
run queue list --dsn
expect "--dsn without value" 1
run queue list --json=1
expect "flag with value" 1
PGQRS_DSN= run queue list
expect "no database" 1 && err_has "no database" "PGQRS_DSN"

# ---- connection errors never show secrets ----------------------------------------------
run --dsn 'postgres://u:hunter2@127.0.0.1:1/db' queue list
expect "unreachable server" 3
if grep -q hunter2 <<<"$out$err"; then fail "password leaked"; else pass; fi
PGQRS_DSN='postgresql://u:hunter2@127.0.0.1:1/db?password=hunter3&connect_timeout=2' run --json queue list
expect "unreachable server via env" 3
if grep -qE 'hunter[23]' <<<"$out$err"; then fail "password leaked (env)"; else pass; fi
[ -z "$out" ] && pass || fail "error printed a JSON document"
run --dsn 'mysql://u:hunter2@host/db' queue list
expect "unsupported DSN" 4
if grep -q hunter2 <<<"$err"; then fail "password leaked (bad DSN)"; else pass; fi

# ---- schema -------------------------------------------------------------------------------
run verify
expect "verify before install" 5
run queue list
expect "command before install" 5 && err_has "command before install" "pgqrs install"
run install
expect "install" 0 && has "install" "$backend"
run install
expect "install again" 0
run --json verify
expect "verify" 0 && json "verify json" "d['ok'] is True and d['backend'] == '$backend'"

# ---- queues ----------------------------------------------------------------------------------
run queue create emails --max-attempts 3
expect "queue create" 0 && has "queue create" "emails"
run --json queue create emails
expect "queue create taken" 5 && err_has "queue create taken" "emails"
[ -z "$out" ] && pass || fail "queue create taken printed JSON"
run queue create emails --exist-ok --json
expect "queue create exist-ok" 0 && json "exist-ok keeps the queue" 'd["name"] == "emails" and d["max_attempts"] == 3'
run queue create reports --json
expect "queue create 2" 0 && json "queue create json" 'd["name"] == "reports" and d["max_attempts"] == 5 and d["id"] > 0 and d["created_at"].endswith("Z")'
run queue create "$(printf 'x%.0s' {1..129})"
expect "queue name too long" 4
run queue create ""
expect "empty queue name" 4
run queue create q --max-attempts 0
expect "max-attempts 0" 1
run queue create "naïve queue 日本"
expect "unicode queue name" 0
run queue list
expect "queue list" 0 && has "queue list header" "MAX_ATTEMPTS" && has "queue list" "reports"
run --json queue list
expect "queue list json" 0 && json "queue list json" '[q["name"] for q in d["queues"]] == sorted([q["name"] for q in d["queues"]]) and len(d["queues"]) == 3'
run queue list --json
expect "--json after the command" 0 && json "--json after the command" 'len(d["queues"]) == 3'
run queue get reports --json
expect "queue get" 0 && json "queue get json" 'd["name"] == "reports"'
run queue get nope
expect "queue get missing" 2 && err_has "queue get missing" "nope"
run queue delete "naïve queue 日本"
expect "queue delete" 0

# ---- messages ---------------------------------------------------------------------------------
run --json message send emails '{"to":"ann@example.com","n":1}'
expect "send" 0 && json "send json" 'd["queue"] == "emails" and isinstance(d["id"], int)'
first_id=$(jget 'd["id"]')
run message send emails '"plain"'
expect "send text" 0 && has "send text" "sent message"
run_in '{"from":"stdin","list":[1,2,3]}
' message send emails
expect "send from stdin" 0
run_in '{"dash":true}' message send emails -
expect "send from stdin with -" 0
run_in '{"big":123456789012345678901234567890}' --json message send emails
expect "send big integer" 0
run message send emails '{"to":'
expect "send invalid JSON" 4 && err_has "send invalid JSON" "JSON"
run_in '' message send emails
expect "send empty stdin" 4
run message send nope '{}'
expect "send to missing queue" 2 && err_has "send to missing queue" "nope"
run message send emails '{}' --delay abc
expect "send bad delay" 1
run message send emails '{}' --delay 99999999
expect "send delay out of range" 4
run message send reports -5
expect "payload that looks like an option" 1
run --json message send reports -- -5
expect "payload after --" 0
run --json message delete reports
expect "delete it again" 0 && json "payload after -- was -5" 'd["count"] == 1 and d["messages"][0]["payload"] == -5'
run message send emails '{"later":true}' --delay 3600
expect "send delayed" 0
# message send --priority / --unique-key (issue 17), on a queue of its own
run queue create prio_jobs
expect "prio queue create" 0
run --json message send prio_jobs '"low"' --priority -5
expect "send priority -5" 0 && json "send priority created" 'd["created"] is True'
low_id=$(jget 'd["id"]')
run --json message send prio_jobs '"high"' --priority 32767 --unique-key job-a
expect "send priority and key" 0 && json "send key created" 'd["created"] is True'
key_id=$(jget 'd["id"]')
run --json message send prio_jobs '"again"' --unique-key job-a
expect "send live key" 0 && json "send live key not created" "d['created'] is False and d['id'] == $key_id"
run message send prio_jobs '"again"' --unique-key job-a
expect "send live key text" 0 && has "send live key text" "not sent: message $key_id of prio_jobs holds key job-a"
run message send prio_jobs '"x"' --priority 40000
expect "send priority out of range" 4 && err_has "send priority out of range" "priority 40000"
run message send prio_jobs '"x"' --priority abc
expect "send priority not a number" 1
run message send prio_jobs '"x"' --unique-key ''
expect "send empty key" 4 && err_has "send empty key" "empty"
run message send prio_jobs '"x"' --unique-key "$(printf 'k%.0s' $(seq 513))"
expect "send 513-byte key" 4 && err_has "send 513-byte key" "513 bytes"
run --json message send prio_jobs '"later-high"' --priority 100 --delay 3600
expect "send delayed high priority" 0
run --json message read prio_jobs
expect "prio read" 0 && json "bad sends wrote nothing" 'len(d["messages"]) == 3'
run --json message archive prio_jobs
expect "archive highest first" 0 && json "highest visible priority taken first" "d['messages'][0]['id'] == $key_id"
run --json message send prio_jobs '"new"' --unique-key job-a
expect "key free after archive" 0 && json "key free after archive created" "d['created'] is True and d['id'] != $key_id"
run --json message archive prio_jobs --max 2
expect "archive rest" 0 && json "the delayed high priority waits" "sorted(m['payload'] for m in d['messages']) == ['low', 'new'] and $low_id in [m['id'] for m in d['messages']]"
run queue delete prio_jobs --force
expect "prio queue delete" 0

run --json message read emails
expect "read" 0 && json "read json" 'len(d["messages"]) == 6 and d["messages"][0]["payload"] == {"to": "ann@example.com", "n": 1} and d["messages"][0]["state"] == "live" and d["messages"][0]["read_count"] == 0'
json "read keeps payload types" 'd["messages"][1]["payload"] == "plain" and d["messages"][2]["payload"]["list"] == [1, 2, 3]'
json "read ids ascending" '[m["id"] for m in d["messages"]] == sorted(m["id"] for m in d["messages"])'
run message read emails
expect "read text" 0 && has "read text header" "PAYLOAD" && has "read text payload" "ann@example.com"
run --json message read emails --limit 2
expect "read limit" 0 && json "read limit" "len(d['messages']) == 2"
run --json message read emails --after "$first_id" --limit 100
expect "read after" 0 && json "read after" "len(d['messages']) == 5 and all(m['id'] > $first_id for m in d['messages'])"
run message read nope
expect "read missing queue" 2
run --json message read emails --limit 0
expect "read limit 0" 1

run --json queue metrics emails
expect "metrics" 0 && json "metrics json" 'len(d["metrics"]) == 1 and d["metrics"][0]["queue"] == "emails" and d["metrics"][0]["pending"] == 5 and d["metrics"][0]["delayed"] == 1'
run queue metrics
expect "metrics all" 0 && has "metrics header" "IN_FLIGHT" && has "metrics all" "reports"
run --json queue metrics
expect "metrics all json" 0 && json "metrics all json" 'sorted(m["queue"] for m in d["metrics"]) == ["emails", "reports"]'
run queue metrics nope
expect "metrics missing queue" 2

# take-and-act commands
run --json message archive emails --max 2
expect "archive" 0 && json "archive json" 'd["action"] == "archive" and d["count"] == 2 and len(d["messages"]) == 2 and all(m["result"] == "ok" for m in d["messages"])'
archived_ids=$(jget '" ".join(str(m["id"]) for m in d["messages"])')
run --json message read emails --archived
expect "read archived" 0 && json "read archived" "sorted(m['id'] for m in d['messages']) == sorted(int(x) for x in '$archived_ids'.split()) and all(m['state'] == 'archived' and m['archived_at'] for m in d['messages'])"
run message delete emails
expect "delete" 0 && has "delete text" "deleted 1 of 1 messages from emails"
run --json message release emails --max 1 --delay 3600
expect "release delayed" 0 && json "release json" 'd["action"] == "release" and d["count"] == 1'
run --json queue metrics emails
expect "metrics after acting" 0 && json "metrics after acting" 'd["metrics"][0]["pending"] == 1 and d["metrics"][0]["delayed"] == 2 and d["metrics"][0]["archived"] == 2 and d["metrics"][0]["in_flight"] == 0'
run message archive emails --max 10 --vt 60
expect "archive the rest" 0 && has "archive the rest" "archived 1 of 1"
run message archive emails
expect "archive nothing visible" 0 && has "archive nothing visible" "no visible messages in emails"
run --json message delete emails
expect "delete nothing json" 0 && json "delete nothing json" 'd["count"] == 0 and d["messages"] == []'
run message archive nope
expect "archive missing queue" 2
run message archive emails --max 0
expect "archive max 0" 1
run message archive emails --max 100000
expect "archive max too big" 4
run message release emails --vt 99999999
expect "release vt too big" 4

# ---- send-batch -------------------------------------------------------------------------------
python3 -c '
import json
for i in range(2500):
    print(json.dumps({"n": i, "s": "x" * (i % 7)}))
    if i % 1000 == 3:
        print()   # blank lines are skipped
' >"$tmp/batch.jsonl"
run_file "$tmp/batch.jsonl" --json message send-batch reports
expect "send-batch json" 0 && json "send-batch json" 'd["count"] == 2500 and len(d["ids"]) == 2500 and d["ids"] == sorted(set(d["ids"]))'
[ -z "$err" ] && pass || fail "send-batch printed progress to a non-terminal"
run --json message read reports --limit 3
expect "send-batch order" 0 && json "send-batch order" '[m["payload"]["n"] for m in d["messages"]] == [0, 1, 2]'
run_file "$tmp/batch.jsonl" message send-batch reports --batch-size 700 --delay 60
expect "send-batch text" 0 && has "send-batch text" "sent 2500 messages to reports"
run --json queue metrics reports
expect "send-batch metrics" 0 && json "send-batch metrics" 'd["metrics"][0]["pending"] == 2500 and d["metrics"][0]["delayed"] == 2500'
# an invalid line: the chunks before it stay, the one holding it is not sent
python3 -c '
import json
for i in range(1500):
    print(json.dumps({"m": i}))
print("{not json")
for i in range(10):
    print("{}")
' >"$tmp/bad.jsonl"
run_file "$tmp/bad.jsonl" message send-batch emails --batch-size 1000
expect "send-batch invalid line" 4 && err_has "send-batch names the line" "line 1501" && err_has "send-batch says what was sent" "1000 messages were sent"
run --json queue metrics emails
expect "send-batch partial" 0 && json "send-batch partial" 'd["metrics"][0]["pending"] == 1000'
run_in '' --json message send-batch emails
expect "send-batch empty" 0 && json "send-batch empty" 'd["count"] == 0 and d["ids"] == []'
run_in '{}' message send-batch nope
expect "send-batch missing queue" 2
run_in '{}' message send-batch emails --batch-size 0
expect "send-batch batch-size 0" 1
run message send-batch
expect "send-batch missing queue argument" 1 && err_has "send-batch missing queue argument" "QUEUE"

# progress: shown on a terminal, absent when stderr is not one
if command -v script >/dev/null 2>&1; then
    PGQRS_DSN="$DSN" script -qec "'$bin' message send-batch reports --batch-size 100 < '$tmp/batch.jsonl'" \
        /dev/null >"$tmp/tty" 2>&1
    if grep -q "sent 2500 messages to reports" "$tmp/tty" && grep -qaE 'sent [0-9]+ messages \([0-9]+%\)' "$tmp/tty"; then
        pass
    else
        rc=?; out=$(cat "$tmp/tty"); err=""; fail "send-batch progress on a terminal"
    fi
else
    skip "send-batch progress on a terminal" "script(1) from util-linux is not installed (no pseudo-terminal)"
fi
run --json queue purge reports
expect "purge" 0 && json "purge json" 'd["purged"] == 7500 and d["queue"] == "reports"'
[ -z "$err" ] && pass || fail "purge printed progress to a non-terminal"
run queue purge reports
expect "purge empty" 0 && has "purge empty" "purged 0 messages from reports"
run queue purge nope
expect "purge missing queue" 2

# ---- dead letters ------------------------------------------------------------------------------
run queue create flaky --max-attempts 1
expect "dlq queue" 0
run_in '{"d":1}
{"d":2}
{"d":3}' message send-batch flaky
expect "dlq send" 0
run message release flaky --max 3
expect "dlq first delivery" 0 && has "dlq first delivery" "released 3 of 3"
run --json message archive flaky --max 3
expect "dlq second delivery dead-letters" 0 && json "dlq second delivery dead-letters" 'd["count"] == 0'
run --json dlq list flaky
expect "dlq list" 0 && json "dlq list" 'd["total"] == 3 and len(d["messages"]) == 3 and all(m["state"] == "dead_letter" for m in d["messages"])'
dead=$(jget '" ".join(str(m["id"]) for m in d["messages"])')
read -r dead1 dead2 dead3 <<<"$dead"
run dlq list flaky --limit 1
if expect "dlq list text" 0; then
    has "dlq list text" "ARCHIVED_AT"
    if [ "$(grep -c . <<<"$out")" = 2 ]; then pass; else fail "dlq list --limit 1: not one row"; fi
fi
run --json dlq list flaky --after "$dead1"
expect "dlq list after" 0 && json "dlq list after" 'len(d["messages"]) == 2'
run --json dlq replay flaky "$dead1"
expect "dlq replay one" 0 && json "dlq replay one" "d['replayed'] == 1 and d['ids'] == [$dead1]"
run dlq replay flaky "$dead1"
expect "dlq replay again" 2
run dlq replay flaky 999999999 "$dead2"
expect "dlq replay partly missing" 2 && err_has "dlq replay names the id" "999999999"
run dlq replay flaky abc
expect "dlq replay bad id" 1
run dlq replay flaky
expect "dlq replay nothing" 1
run dlq replay flaky "$dead3" --all
expect "dlq replay ids and all" 1
run --json dlq replay flaky --all
expect "dlq replay all" 0 && json "dlq replay all" 'd["replayed"] == 1'
run --json queue metrics flaky
expect "dlq metrics" 0 && json "dlq metrics" 'd["metrics"][0]["dead_lettered"] == 0 and d["metrics"][0]["pending"] == 3'
run dlq list nope
expect "dlq list missing queue" 2
run --json message read flaky
expect "replayed read count" 0 && json "replayed read count" 'all(m["read_count"] == 0 for m in d["messages"])'

# ---- workers ------------------------------------------------------------------------------------
run --json worker list
expect "worker list" 0 && json "worker list json" 'len(d["workers"]) > 0 and all(w["kind"] in ("producer", "consumer") and w["status"] == "stopped" for w in d["workers"])'
nworkers=$(jget 'len(d["workers"])')
run worker list
expect "worker list text" 0 && has "worker list text" "HEARTBEAT"
run --json worker list --queue flaky
expect "worker list queue" 0 && json "worker list queue" 'len(d["workers"]) > 0 and all(w["queue"] == "flaky" for w in d["workers"])'
run worker list --queue nope
expect "worker list missing queue" 2
run --json worker health
expect "worker health" 0 && json "worker health" "d['total'] == $nworkers and d['stopped'] == $nworkers and d['ready'] == 0 and d['stale'] == 0"
run worker health --stale-after 60
expect "worker health text" 0 && has "worker health text" "stopped"
run worker health --stale-after -1
expect "worker health negative" 1
run --json worker reclaim
expect "worker reclaim" 0 && json "worker reclaim" 'd["reclaimed"] == 0'
run worker reclaim --older-than 60
expect "worker reclaim text" 0 && has "worker reclaim text" "reclaimed 0 workers"
run --json worker purge-stale
expect "worker purge-stale (recent)" 0 && json "worker purge-stale (recent)" 'd["purged"] == 0'
sleep 2
run --json worker purge-stale --older-than 1
expect "worker purge-stale" 0 && json "worker purge-stale" 'd["purged"] > 0'
run worker purge-stale --older-than x
expect "worker purge-stale bad" 1

# ---- workflows ------------------------------------------------------------------------------------
# The CLI cannot define a handler: tests/cli/wf_helper.c defines the workflows (greet, nap,
# selfcancel) and executes their runs, linked like the CLI (the Makefile's LIBS).
libs=$(make -s --no-print-directory print-libs)
# shellcheck disable=SC2086
if ! cc -std=c11 -Wall -Wextra -Werror -Iinclude tests/cli/wf_helper.c build/libpgqrs.a $libs -lm \
    -o "$tmp/wf_helper" 2>"$tmp/cc.err"; then
    rc=1; out=""; err=$(cat "$tmp/cc.err"); fail "build tests/cli/wf_helper.c"
else
    helper() { PGQRS_BIN="$bin" WF_HELPER_OUT="$tmp/wf_cli_out" "$tmp/wf_helper" "$DSN" "$@" >"$tmp/hout" 2>"$tmp/herr"; }
    run --json workflow list
    expect "workflow list empty" 0 && json "workflow list empty" 'd == {"workflows": []}'
    run --json workflow runs
    expect "workflow runs empty" 0 && json "workflow runs empty" 'd == {"runs": []}'
    run workflow trigger greet '{}'
    expect "trigger unknown workflow" 2 && err_has "trigger unknown workflow" "greet"
    if helper define; then pass; else rc=$?; out=$(cat "$tmp/hout"); err=$(cat "$tmp/herr"); fail "wf_helper define"; fi
    run --json workflow list
    expect "workflow list" 0 && json "workflow list" '[w["name"] for w in d["workflows"]] == ["greet", "nap", "selfcancel"] and all(w["id"] > 0 and w["queue"] == "workflow:" + w["name"] and w["retry_policy"]["max_attempts"] == 3 and w["created_at"].endswith("Z") for w in d["workflows"])'
    run workflow list
    expect "workflow list text" 0 && has "workflow list text" "RETRY_POLICY" && has "workflow list text" "selfcancel"

    # triggers: idempotency key, inputs
    run --json workflow trigger greet '{"who":"ann","n":[1,2]}' --key order-7
    expect "trigger" 0 && json "trigger json" 'd["workflow"] == "greet" and d["created"] is True and d["id"] > 0'
    ok_id=$(jget 'd["id"]')
    run --json workflow trigger greet '{"who":"bob"}' --key order-7
    expect "trigger same key" 0 && json "trigger same key: same run" "d['id'] == $ok_id and d['created'] is False"
    run workflow trigger greet '{"x":1}' --key order-7
    expect "trigger same key text" 0 && has "trigger same key text" "run $ok_id of greet already exists for key order-7"
    run workflow trigger greet '{"fail":true}'
    expect "trigger text" 0 && has "trigger text" "triggered run"
    fail_id=$(grep -Eo '[0-9]+' <<<"$out" | head -n 1)
    run_in '{"from":"stdin"}' --json workflow trigger greet -
    expect "trigger from stdin" 0
    stdin_id=$(jget 'd["id"]')
    run --json workflow trigger greet
    expect "trigger without input" 0
    null_id=$(jget 'd["id"]')
    run --json workflow trigger nap
    expect "trigger nap" 0
    nap_id=$(jget 'd["id"]')
    run --json workflow trigger greet
    expect "trigger pending" 0
    pending_id=$(jget 'd["id"]')
    run workflow trigger greet '{"bad":'
    expect "trigger invalid JSON" 4
    run workflow trigger greet '   '
    expect "trigger blank input" 4
    run workflow trigger ""
    expect "trigger empty name" 4
    run workflow trigger
    expect "trigger missing name" 1 && err_has "trigger missing name" "NAME"

    # cancel a pending run: CANCELLED; again: conflict; unknown: not found
    run --json workflow cancel "$pending_id" --reason "changed my mind"
    expect "cancel pending" 0 && json "cancel pending" "d == {'id': $pending_id, 'status': 'CANCELLED', 'cancel_reason': 'changed my mind'}"
    run workflow cancel "$pending_id"
    expect "cancel again" 5 && err_has "cancel again" "CANCELLED"
    run --json workflow cancel 999999999
    expect "cancel unknown" 2
    [ -z "$out" ] && pass || fail "cancel unknown printed JSON"
    run workflow cancel abc
    expect "cancel bad id" 1

    # execute: greet (success, non-retryable failure, inputs), nap (sleeps an hour)
    # 4 handler executions; the cancelled run's message is settled without running it
    if helper execute greet && [ "$(cat "$tmp/hout")" = 4 ]; then pass; else
        rc=$?; out=$(cat "$tmp/hout"); err=$(cat "$tmp/herr"); fail "wf_helper execute greet: 4 executions"; fi
    if helper execute nap && [ "$(cat "$tmp/hout")" = 1 ]; then pass; else
        rc=$?; out=$(cat "$tmp/hout"); err=$(cat "$tmp/herr"); fail "wf_helper execute nap: 1 run"; fi
    run --json workflow run get "$ok_id"
    expect "run get" 0 && json "run get" "d['id'] == $ok_id and d['workflow'] == 'greet' and d['status'] == 'SUCCESS' and d['attempts'] == 1 and d['input'] == {'who': 'ann', 'n': [1, 2]} and d['output'] == {'a': {'step': 'a'}, 'b': [1, 2, 3], 'in': {'who': 'ann', 'n': [1, 2]}} and d['error'] is None and d['idempotency_key'] == 'order-7' and d['completed_at'].endswith('Z') and d['cancelled_at'] is None"
    json "run get steps" "[(s['step_id'], s['status'], s['attempts'], s['output']) for s in d['steps']] == [('a', 'SUCCESS', 1, {'step': 'a'}), ('b', 'SUCCESS', 1, [1, 2, 3])] and all(s['error'] is None and s['completed_at'] for s in d['steps'])"
    run workflow run get "$ok_id"
    expect "run get text" 0 && has "run get text" "status           SUCCESS" && has "run get text steps" "STEP" && has "run get text output" 'ann'
    run --json workflow run get "$fail_id"
    expect "run get failed" 0 && json "run get failed" "d['status'] == 'ERROR' and d['error'] == {'why': 'asked to fail'} and d['output'] is None and [s['step_id'] for s in d['steps']] == ['a']"
    run --json workflow run get "$stdin_id"
    expect "run get stdin input" 0 && json "run get stdin input" "d['input'] == {'from': 'stdin'} and d['status'] == 'SUCCESS'"
    run --json workflow run get "$null_id"
    expect "run get null input" 0 && json "run get null input" "d['input'] is None and d['output']['in'] is None"
    run --json workflow run get "$nap_id"
    expect "run get sleeping" 0 && json "run get sleeping" "d['status'] == 'PENDING' and d['retry_at'] is not None and [s['step_id'] for s in d['steps']] == ['one', 'nap'] and 'wake_at_us' in d['steps'][1]['output']"
    run --json workflow run get "$pending_id"
    expect "run get cancelled" 0 && json "run get cancelled" "d['status'] == 'CANCELLED' and d['cancel_reason'] == 'changed my mind' and d['cancelled_at'] and d['attempts'] == 0 and d['steps'] == []"
    run workflow run get 999999999
    expect "run get unknown" 2
    run workflow run get
    expect "run get missing id" 1 && err_has "run get missing id" "ID"
    run workflow run show 1
    expect "run unknown subcommand" 1 && err_has "run unknown subcommand" "one of: get"
    run workflow run get x
    expect "run get bad id" 1

    # a sleeping run is PENDING: cancelled at once
    run workflow cancel "$nap_id"
    expect "cancel sleeping" 0 && has "cancel sleeping" "run $nap_id is CANCELLED"
    # a running run: cancelled by the CLI from inside its own step -> CANCELLING, then CANCELLED
    run --json workflow trigger selfcancel
    expect "trigger selfcancel" 0
    self_id=$(jget 'd["id"]')
    if helper execute selfcancel; then pass; else
        rc=$?; out=$(cat "$tmp/hout"); err=$(cat "$tmp/herr"); fail "wf_helper execute selfcancel"; fi
    out=$(cat "$tmp/wf_cli_out" 2>/dev/null); rc=0; err=""
    json "cancel running -> CANCELLING" "d == {'id': $self_id, 'status': 'CANCELLING', 'cancel_reason': 'from-cli'}"
    run --json workflow run get "$self_id"
    expect "run get self-cancelled" 0 && json "run get self-cancelled" "d['status'] == 'CANCELLED' and d['cancel_reason'] == 'from-cli' and [(s['step_id'], s['output']) for s in d['steps']] == [('one', {'cli_exit': 0})]"
    run workflow cancel "$self_id"
    expect "cancel finished" 5

    # listings and filters
    run --json workflow runs
    expect "workflow runs" 0 && json "workflow runs" "len(d['runs']) == 7 and [r['id'] for r in d['runs']] == sorted((r['id'] for r in d['runs']), reverse=True) and all(k in d['runs'][0] for k in ('id', 'workflow', 'status', 'input', 'output', 'error', 'attempts', 'created_at'))"
    run --json workflow runs --workflow greet
    expect "runs --workflow" 0 && json "runs --workflow" "len(d['runs']) == 5 and {r['workflow'] for r in d['runs']} == {'greet'}"
    run --json workflow runs --status cancelled
    expect "runs --status" 0 && json "runs --status" "sorted(r['id'] for r in d['runs']) == sorted([$pending_id, $nap_id, $self_id])"
    run --json workflow runs --workflow greet --status SUCCESS --limit 2
    expect "runs combined" 0 && json "runs combined" "len(d['runs']) == 2 and all(r['status'] == 'SUCCESS' for r in d['runs'])"
    run --json workflow runs --since 3600
    expect "runs --since seconds" 0 && json "runs --since seconds" "len(d['runs']) == 7"
    run --json workflow runs --since 2999-01-01T00:00:00Z
    expect "runs --since future" 0 && json "runs --since future" "d['runs'] == []"
    run --json workflow runs --since 2000-01-01
    expect "runs --since date" 0 && json "runs --since date" "len(d['runs']) == 7"
    run --json workflow runs --since "2000-01-01T00:00:00.5+02:00"
    expect "runs --since offset" 0 && json "runs --since offset" "len(d['runs']) == 7"
    run workflow runs --since yesterday
    expect "runs --since malformed" 1 && err_has "runs --since malformed" "--since"
    run workflow runs --status bogus
    expect "runs bad status" 4
    run workflow runs --workflow nope
    expect "runs unknown workflow" 2
    run workflow runs --limit 0
    expect "runs limit 0" 1
    run workflow runs --limit 10001
    expect "runs limit too big" 4
    run workflow runs
    expect "workflow runs text" 0 && has "workflow runs text" "ATTEMPTS" && has "workflow runs text" "order-7"
    # a workflow's queue cannot be deleted; the error names the command that can
    run queue delete workflow:greet --force
    expect "workflow queue delete refused" 5 && err_has "workflow queue delete refused" "pgqrs workflow delete greet"

    # send / wait / events / delete (workflow inbox: recv on "t", then event "seen")
    if helper define inbox; then pass; else
        rc=$?; out=$(cat "$tmp/hout"); err=$(cat "$tmp/herr"); fail "wf_helper define inbox"; fi
    run --json workflow trigger inbox
    expect "trigger inbox" 0
    inbox_id=$(jget 'd["id"]')
    helper execute inbox || fail "wf_helper execute inbox (suspends)"
    run --json workflow run get "$inbox_id"
    expect "inbox waits" 0 && json "inbox waits" "d['status'] == 'PENDING' and d['retry_at'] is not None"
    run workflow wait "$inbox_id" --timeout 0.2
    expect "wait times out" 3
    run --json workflow send "$inbox_id" t '{"hi": [1, 2]}'
    expect "send" 0 && json "send json" "d == {'run_id': $inbox_id, 'topic': 't', 'sent': True}"
    run_in '"from stdin"' workflow send "$inbox_id" other -
    expect "send stdin" 0 && has "send stdin" "sent to run $inbox_id on topic other"
    run workflow send "$inbox_id" t '{"bad":'
    expect "send bad json" 4
    run workflow send "$inbox_id" "" 1
    expect "send empty topic" 4
    run workflow send 999999999 t 1
    expect "send unknown run" 2 && err_has "send unknown run" "does not exist"
    run workflow send x t 1
    expect "send bad id" 1
    run workflow events "$inbox_id" --wait seen --timeout 0.1
    expect "events wait times out" 3
    helper execute inbox || fail "wf_helper execute inbox (receives)"
    run --json workflow wait "$inbox_id" --timeout 5
    expect "wait" 0 && json "wait json" "d['id'] == $inbox_id and d['status'] == 'SUCCESS' and d['output'] == {'got': {'hi': [1, 2]}}"
    run workflow wait "$inbox_id"
    expect "wait text" 0 && has "wait text" "is SUCCESS"
    run workflow wait "$fail_id"
    expect "wait failed run" 5 && has "wait failed run" "ERROR"
    run workflow wait 999999999
    expect "wait unknown" 2
    run --json workflow events "$inbox_id"
    expect "events" 0 && json "events json" "d['run_id'] == $inbox_id and [(e['key'], e['value']) for e in d['events']] == [('seen', {'hi': [1, 2]})] and d['events'][0]['updated_at'].endswith('Z')"
    run workflow events "$inbox_id"
    expect "events text" 0 && has "events text" "seen"
    run --json workflow events "$inbox_id" --wait seen --timeout 1
    expect "events wait" 0 && json "events wait json" "d == {'run_id': $inbox_id, 'key': 'seen', 'value': {'hi': [1, 2]}}"
    run workflow events "$inbox_id" --wait nope --timeout 5
    expect "events wait on an ended run" 2 && err_has "events wait on an ended run" "ended"
    run workflow events "$inbox_id" --timeout 1
    expect "events --timeout without --wait" 1
    run workflow events 999999999
    expect "events unknown run" 2
    run workflow send "$inbox_id" t 1
    expect "send to a finished run" 5 && err_has "send to a finished run" "SUCCESS"
    run --json workflow delete inbox
    expect "delete" 0 && json "delete json" "d == {'workflow': 'inbox', 'deleted': True, 'forced': False}"
    run workflow run get "$inbox_id"
    expect "deleted run is gone" 2
    run --json workflow trigger nap
    expect "trigger nap to delete" 0
    run workflow delete nap
    expect "delete in flight" 5 && err_has "delete in flight" "in flight"
    run workflow delete nap --force
    expect "delete forced" 0 && has "delete forced" "deleted workflow nap"
    run workflow delete nap
    expect "delete unknown" 2
fi

# ---- retry policy: queue create / update -----------------------------------------------------------
run --json queue create policy --retry-delay 250 --retry-multiplier 3 --retry-max-delay 9000 --retry-jitter 0
expect "queue create with a retry policy" 0 &&
    json "retry policy stored" 'd["retry_initial_delay_ms"] == 250 and d["retry_multiplier"] == 3 and d["retry_max_delay_ms"] == 9000 and d["retry_jitter"] == 0'
run --json queue update policy --retry-jitter 0.5 --max-attempts 9
expect "queue update" 0 && json "queue update keeps the rest" 'd["retry_jitter"] == 0.5 and d["max_attempts"] == 9 and d["retry_initial_delay_ms"] == 250'
run queue update policy --retry-max-delay 10
expect "queue update inconsistent" 4
run queue update policy --retry-multiplier 0.5
expect "queue update bad multiplier" 1
run queue update nope --max-attempts 2
expect "queue update missing" 2
run queue get policy
expect "queue get shows the policy" 0 && has "queue get shows the policy" "250 ms, x3 per retry"

# ---- per-queue limits: queue create / update / get / list ------------------------------------------
run --json queue create limited --concurrency-limit 3 --rate-limit 10/1s
expect "queue create with limits" 0 &&
    json "limits stored" 'd["concurrency_limit"] == 3 and d["rate_limit"] == 10 and d["rate_period_ms"] == 1000'
run queue update limited --rate-limit 5/2m --max-attempts 4 --json
expect "queue update limits" 0 &&
    json "rate changed, the rest kept" 'd["rate_limit"] == 5 and d["rate_period_ms"] == 120000 and d["concurrency_limit"] == 3 and d["max_attempts"] == 4'
run --json queue update limited --concurrency-limit none
expect "queue update removes a limit" 0 && json "concurrency limit removed" 'd["concurrency_limit"] is None and d["rate_limit"] == 5'
run queue get limited
expect "queue get shows the limits" 0 && has "queue get shows the limits" "at most 5 claims per 120000 ms"
run queue list
expect "queue list shows the limits" 0 && has "queue list limits header" "CONCURRENCY" && has "queue list rate" "5/120000ms"
run queue update limited --rate-limit 5
expect "rate limit without a period" 1
run queue update limited --rate-limit 5/0s
expect "rate period 0" 1
run queue update limited --concurrency-limit 0
expect "concurrency limit 0" 1
run --json queue update limited --rate-limit none
expect "queue update removes the rate limit" 0 && json "rate limit removed" 'd["rate_limit"] is None and d["rate_period_ms"] is None'


# ---- work: a command per message ---------------------------------------------------------------------
run queue create workq --max-attempts 2 --retry-delay 1 --retry-jitter 0
expect "work queue" 0
for p in '{"n":1}' '{"n":2,"flaky":true}' '{"n":3}' '{"n":4,"poison":true}'; do run message send workq "$p"; done
cat > "$tmp/job.sh" <<'JOB'
#!/bin/sh
p=$(cat)
case "$p" in
*poison*) echo '{"why":"poison"}'; exit 65 ;;
*flaky*) echo "flaky attempt $PGQRS_ATTEMPT" ; exit 1 ;;
esac
printf '{"id":%s,"attempt":%s,"of":%s,"queue":"%s","payload":%s}\n' "$PGQRS_MESSAGE_ID" "$PGQRS_ATTEMPT" \
    "$PGQRS_MAX_ATTEMPTS" "$PGQRS_QUEUE" "$p"
JOB
chmod +x "$tmp/job.sh"
run work workq --until-empty --concurrency 2 -- "$tmp/job.sh"
if [ "$rc" = 0 ] && grep -qF "workq: 2 done, 1 retried, 2 dead-lettered, 0 given back" <<<"$out"; then pass; else fail "work until empty"; fi
err_has "work passes non-JSON output to stderr" "flaky attempt 1"
err_has "work retried the flaky one" "flaky attempt 2"
run --json message read workq --archived
expect "work archived" 0 &&
    json "work stored results" 'sorted(m["result"]["payload"]["n"] for m in d["messages"]) == [1, 3] and all(m["result"]["attempt"] == 1 and m["result"]["of"] == 2 and m["result"]["queue"] == "workq" and m["result"]["id"] == m["id"] for m in d["messages"])'
run --json dlq list workq
expect "work dead letters" 0 &&
    json "work dead-lettered poison at once and flaky after its last attempt" 'sorted((m["payload"]["n"], m["read_count"], m["result"]) for m in d["messages"]) == [(2, 2, None), (4, 1, {"why": "poison"})]'
run --json message read workq
expect "work left nothing" 0 && json "work left nothing" 'd["messages"] == []'
run message send workq '{"n":5}'
run --json work workq --until-empty --fail-exit 3 -- sh -c 'cat >/dev/null; exit 3'
expect "work --json, --fail-exit" 0 && json "work --json" 'd["queue"] == "workq" and d["dead_lettered"] == 1 and d["done"] == 0 and d["claimed"] == 1'
run work workq
expect "work without a command" 1 && err_has "work without a command" "missing COMMAND"
run work nope --until-empty -- true
expect "work on a missing queue" 2
run work workq --concurrency 0 -- true
expect "work --concurrency 0" 1
run message send workq '{"n":6}'
run work workq --until-empty -- /nonexistent/command
if [ "$rc" = 0 ] && grep -qF "cannot run /nonexistent/command" <<<"$err"; then pass; else fail "work with a missing command"; fi
# SIGTERM drains: the running command finishes (archived), the waiting ones go back
run queue create drain
for i in 1 2 3 4 5; do run message send drain "{\"i\":$i}"; done
"$bin" work drain --batch-size 10 -- sh -c 'cat >/dev/null; touch "'"$tmp"'/started.$PGQRS_MESSAGE_ID"; sleep 1' \
    </dev/null >"$tmp/drain.out" 2>"$tmp/drain.err" &
wpid=$!
for _ in $(seq 1 100); do ls "$tmp"/started.* >/dev/null 2>&1 && break; sleep 0.05; done
kill -TERM "$wpid"
wait "$wpid"
rc=$?; out=$(cat "$tmp/drain.out"); err=$(cat "$tmp/drain.err")
expect "work drains on SIGTERM" 0 && has "work drains on SIGTERM" "drain: 1 done, 0 retried, 0 dead-lettered, 4 given back"
run --json message read drain
expect "drained messages are pending" 0 &&
    json "given back: pending, the claim not counted" 'len(d["messages"]) == 4 and all(m["read_count"] == 0 and m["consumer_worker_id"] is None for m in d["messages"])'
# progress on descriptor 3, and a cancel that stops the running command (SIGTERM to its group)
run queue create cancelw
run --json message send cancelw '{"w":1}'
wid=$(jget 'd["id"]')
cat >"$tmp/cjob.sh" <<'EOS'
#!/bin/sh
cat >/dev/null
echo '{"pct":10}' >&"$PGQRS_PROGRESS_FD"
echo 'not json' >&3
trap 'exit 1' TERM
i=0; while [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done
EOS
chmod +x "$tmp/cjob.sh"
"$bin" work cancelw --vt 1 --until-empty -- "$tmp/cjob.sh" </dev/null >"$tmp/cw.out" 2>"$tmp/cw.err" &
wpid=$!
for _ in $(seq 1 200); do
    run --json message get "$wid"
    [ "$rc" = 0 ] && [ "$(jget 'd["progress"]')" = "{'pct': 10}" ] && break
    sleep 0.05
done
json "work stores progress lines" 'd["progress"] == {"pct": 10} and d["state"] == "in_flight"'
run message read cancelw
expect "read shows progress" 0 && has "read shows progress" "PROGRESS" && has "read shows progress value" '"pct"'
run --json message cancel "$wid"
expect "cancel running work" 0 && json "cancel running work" 'd["outcome"] == "requested"'
wait "$wpid"
rc=$?; out=$(cat "$tmp/cw.out"); err=$(cat "$tmp/cw.err")
if [ "$rc" = 0 ] && grep -qF "cancelw: 0 done, 0 retried, 0 dead-lettered, 0 given back, 1 cancelled" <<<"$out"; then pass; else fail "work cancelled the running command"; fi
err_has "work ignores progress that is not JSON" "progress line ignored (not JSON)"
run --json message get "$wid"
expect "cancelled work message" 0 && json "cancelled work message" 'd["state"] == "cancelled" and d["progress"] == {"pct": 10}'
# ---- schedules and retention --------------------------------------------------------------------
run queue create sched-reports
expect "create queue for schedules" 0
run --json schedule create nightly --cron '0 3 * * *' --tz Europe/Berlin --queue sched-reports --payload '{"kind":"nightly"}'
expect "schedule create" 0 && json "schedule create" 'd["name"] == "nightly" and d["timezone"] == "Europe/Berlin" and d["target"] == "sched-reports" and d["next_at"].endswith("Z")'
run schedule create nightly --cron '0 3 * * *' --queue sched-reports
expect "schedule create: taken name" 5
run schedule create bad --cron '0 3 * *' --queue sched-reports
expect "schedule create: 4 fields" 4 && err_has "schedule create: 4 fields" "5 fields"
run schedule create bad --cron '0 3 * * *' --tz Nowhere/City --queue sched-reports
expect "schedule create: unknown zone" 4 && err_has "schedule create: unknown zone" "Nowhere/City"
run schedule create bad --cron '* * * * *' --queue missing
expect "schedule create: missing queue" 2 && err_has "schedule create: missing queue" "missing"
run schedule create bad --cron '* * * * *' --queue sched-reports --input '{}'
expect "schedule create: --input with a queue" 1
run schedule create bad --cron '* * * * *' --queue sched-reports --overlap sometimes
expect "schedule create: bad overlap" 4
run --json schedule list
expect "schedule list" 0 && json "schedule list" 'len(d["schedules"]) == 1 and d["schedules"][0]["next_at"]'
run schedule list
expect "schedule list text" 0 && has "schedule list text" "queue:sched-reports"
run --json schedule next --cron '30 2 * * *' --tz Europe/Berlin --after 2025-03-29T00:00:00Z --count 3
expect "schedule next" 0 && json "schedule next: the gap" 'd["times"] == ["2025-03-29T01:30:00.000000Z", "2025-03-30T01:30:00.000000Z", "2025-03-31T00:30:00.000000Z"]'
run schedule next --cron '@every 0s'
expect "schedule next: bad" 4
run --json schedule pause nightly
expect "schedule pause" 0 && json "schedule pause" 'd["paused"] is True'
run --json schedule get nightly
expect "schedule get paused" 0 && json "schedule get paused" 'd["paused"] is True and d["payload"] == {"kind": "nightly"}'
run schedule resume nightly
expect "schedule resume" 0
run --json schedule run --once
expect "schedule run --once" 0 && json "schedule run --once" 'd["rounds"] == 1 and d["fired"] == 0'
run --json schedule create every-second --cron '@every 1s' --queue sched-reports --overlap allow
expect "schedule create @every" 0
sleep 1.2
run --json schedule run --once --retention-interval 0
expect "schedule run fires" 0 && json "schedule run fires" 'd["fired"] >= 1'
run schedule delete every-second
expect "schedule delete" 0
# pgqrs work runs a scheduler too (its first round before --until-empty may end)
run queue create sched-work
run schedule create work-tick --cron '@every 1s' --queue sched-work --payload '{"k":1}' --overlap allow
expect "schedule create for work" 0
sleep 1.1
run --json work sched-work --until-empty --no-scheduler -- true
expect "work --no-scheduler" 0 && json "work --no-scheduler fires nothing" 'd["ticks_fired"] == 0 and d["claimed"] == 0'
run --json work sched-work --until-empty --retention-interval 0 -- grep -q k
expect "work fires the schedule" 0 && json "work fires the schedule" 'd["ticks_fired"] >= 1 and d["done"] >= 1 and d["dead_lettered"] == 0'
run work sched-work --retention-interval -1 -- true
expect "work --retention-interval -1" 1
run schedule delete work-tick
expect "schedule delete work-tick" 0
run schedule delete every-second
expect "schedule delete missing" 2
run queue delete sched-reports --force
expect "queue delete refused while scheduled" 5 && err_has "queue delete refused while scheduled" "schedule 'nightly'"
run retention set --archive-max-age 3600
expect "retention set default" 0
run --json retention set sched-reports --dlq-max-rows 100
expect "retention set queue" 0 && json "retention set queue" 'd["dlq_max_rows"] == 100 and d["queue"] == "sched-reports"'
run --json retention show sched-reports
expect "retention show" 0 && json "retention show" 'd["default"]["archive_max_age_s"] == 3600 and d["queues"][0]["effective"]["archive_max_age_s"] == 3600 and d["queues"][0]["own"]["dlq_max_rows"] == 100'
run retention set missing --dlq-max-rows 1
expect "retention set missing queue" 2
run retention set sched-reports --dlq-max-rows -5
expect "retention set bad value" 1
run --json retention run --batch-size 10
expect "retention run" 0 && json "retention run" 'd["complete"] is True'
run schedule delete nightly
expect "schedule delete nightly" 0

# ---- message get / cancel by id -------------------------------------------------------------------
run queue create cancelq
expect "cancel queue" 0
run --json message send cancelq '{"c":1}'
cid1=$(jget 'd["id"]')
run --json message send cancelq '{"c":2}' --delay 3600
cid2=$(jget 'd["id"]')
run --json message get "$cid1"
expect "get pending" 0 && json "get pending" 'd["state"] == "pending" and d["payload"] == {"c": 1} and d["progress"] is None and d["read_count"] == 0'
run message get "$cid2"
expect "get delayed text" 0 && has "get delayed text" "delayed"
run --json message cancel "$cid2"
expect "cancel delayed" 0 && json "cancel delayed" 'd["outcome"] == "cancelled"'
run --json message get "$cid2"
expect "get cancelled" 0 && json "get cancelled" 'd["state"] == "cancelled" and d["archived_at"] is not None'
run message cancel "$cid2"
expect "cancel twice" 5 && err_has "cancel twice" "already cancelled"
run message cancel "$cid1" --queue emails
expect "cancel in another queue" 2
run message cancel 99999999
expect "cancel unknown" 2
run message get 99999999
expect "get unknown" 2
run message get abc
expect "get bad id" 1
run message cancel "$cid1" --queue cancelq
expect "cancel pending" 0 && has "cancel pending" "cancelled message $cid1"
run --json message read cancelq
expect "cancelled leave the queue" 0 && json "cancelled leave the queue" 'd["messages"] == []'

# ---- deleting queues ------------------------------------------------------------------------------
run queue delete flaky
expect "delete queue with messages" 5 && err_has "delete queue with messages" "--force"
run --json queue delete flaky --force
expect "delete queue --force" 0 && json "delete queue --force" 'd["deleted"] is True'
run queue get flaky
expect "deleted queue is gone" 2
run queue delete flaky
expect "delete missing queue" 2

echo "cli: $passed passed, $failed failed, $skipped skipped"
[ "$failed" = 0 ]
