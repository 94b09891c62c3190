#!/usr/bin/env bash
# Property-based fuzzing of the storecheck HTTP API with schemathesis, against the OpenAPI
# description the server itself serves at /openapi.yaml, once for each of three roles.
#
#   scripts/schemathesis.sh [PATH/TO/storecheck]
#
# The binary defaults to $CARGO_TARGET_DIR/release/storecheck, else .../debug/storecheck
# (CARGO_TARGET_DIR defaults to ./target). Build it first; this script never runs cargo.
#
# What it does:
#   - makes (or reuses) a virtualenv with the exact versions pinned in
#     scripts/schemathesis-requirements.txt, outside the repository, in
#     ${STORECHECK_CACHE:-$HOME/.cache/storecheck}/schemathesis-venv; it is rebuilt whenever
#     the pin file (or the interpreter) changes;
#   - for each role (hq, regional_manager, auditor): starts `storecheck serve --demo` on a free
#     loopback port with a fresh temporary data folder, signs in as that role's demo user, runs
#     schemathesis with that user's access token, and stops the server. Each role gets its own
#     server so that what one role's run changes (an HQ run may disable users, reset their
#     passwords or change their roles, which ends their sessions) cannot silently turn the next
#     role's run into a run of 401s;
#   - checks that the token still works after the run (a run whose session died part way
#     tested little but 401s, and is reported as a failure);
#   - prints each role's duration; exits non-zero if any role found a failure or an error.
#
# Checks: no 5xx (not_a_server_error) and conformance to the spec: response bodies
# (response_schema_conformance), status codes (status_code_conformance), content types
# (content_type_conformance) and response headers (response_headers_conformance).
#
# Knobs (environment):
#   SCHEMATHESIS_MAX_EXAMPLES  test cases per operation in the fuzzing phase (default 100)
#   SCHEMATHESIS_SEED          seed for reproducible runs (default 20261202)
#   SCHEMATHESIS_ROLES         subset of "hq regional_manager auditor" (default: all three)
#   SCHEMATHESIS_PYTHON        interpreter for the venv (default: python3.11)
#   SCHEMATHESIS_REPORT_DIR    where logs and JUnit reports go (default: a new temporary folder)
#   SCHEMATHESIS_EXTRA_ARGS    extra arguments for `schemathesis run`, split on spaces
#   STORECHECK_CACHE           cache folder (default $HOME/.cache/storecheck)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
REQUIREMENTS="$ROOT/scripts/schemathesis-requirements.txt"

die() { echo "schemathesis.sh: $*" >&2; exit 2; }

# ---- the server binary -------------------------------------------------------------------
BIN=${1:-}
if [[ -z "$BIN" ]]; then
    target=${CARGO_TARGET_DIR:-$ROOT/target}
    for candidate in "$target/release/storecheck" "$target/debug/storecheck"; do
        if [[ -x "$candidate" ]]; then BIN=$candidate; break; fi
    done
    [[ -n "$BIN" ]] || die "no server binary under $target/{release,debug}; build it or pass its path as \$1"
fi
[[ -x "$BIN" ]] || die "not an executable: $BIN"
BIN=$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")

MAX_EXAMPLES=${SCHEMATHESIS_MAX_EXAMPLES:-100}
SEED=${SCHEMATHESIS_SEED:-20261202}
ROLES=${SCHEMATHESIS_ROLES:-hq regional_manager auditor}
DEMO_PASSWORD=demo-password

email_for_role() {
    case "$1" in
        hq) echo hq@demo.test ;;
        regional_manager) echo manager1@demo.test ;;
        auditor) echo auditor1@demo.test ;;
        *) die "unknown role: $1 (expected hq, regional_manager or auditor)" ;;
    esac
}
for role in $ROLES; do email_for_role "$role" >/dev/null; done

# ---- the pinned virtualenv ---------------------------------------------------------------
PYTHON=${SCHEMATHESIS_PYTHON:-python3.11}
command -v "$PYTHON" >/dev/null || die "no $PYTHON on PATH (set SCHEMATHESIS_PYTHON)"
CACHE=${STORECHECK_CACHE:-$HOME/.cache/storecheck}
VENV="$CACHE/schemathesis-venv"
STAMP="$VENV/.requirements.sha256"
want=$( { sha256sum <"$REQUIREMENTS"; "$PYTHON" -c 'import sys; print(sys.version)'; } | sha256sum | cut -d' ' -f1)
if [[ ! -x "$VENV/bin/schemathesis" || ! -f "$STAMP" || "$(cat "$STAMP")" != "$want" ]]; then
    echo "==> creating $VENV from $(basename "$REQUIREMENTS")"
    rm -rf "$VENV"
    mkdir -p "$CACHE"
    "$PYTHON" -m venv "$VENV"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps -r "$REQUIREMENTS"
    # --no-deps plus this check: the pin file must name every package, and nothing unpinned sneaks in.
    "$VENV/bin/python" -m pip check
    echo "$want" >"$STAMP"
fi
ST="$VENV/bin/schemathesis"
VPY="$VENV/bin/python"
echo "==> $("$ST" --version) (python $("$VPY" -c 'import platform; print(platform.python_version())'))"

# ---- scratch space, server lifecycle -----------------------------------------------------
WORK=$(mktemp -d "${TMPDIR:-/tmp}/storecheck-schemathesis.XXXXXX")
REPORT_DIR=${SCHEMATHESIS_REPORT_DIR:-$WORK/reports}
mkdir -p "$REPORT_DIR"
SERVER_PID=
ST_PID=

stop_server() {
    if [[ -n "$SERVER_PID" ]]; then
        kill "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
        SERVER_PID=
    fi
}
cleanup() {
    if [[ -n "$ST_PID" ]]; then
        kill "$ST_PID" 2>/dev/null || true
        wait "$ST_PID" 2>/dev/null || true
    fi
    stop_server
    # Keep the reports when they live inside the scratch folder; drop the rest.
    if [[ "$REPORT_DIR" == "$WORK/reports" ]]; then
        find "$WORK" -mindepth 1 -maxdepth 1 ! -name reports -exec rm -rf {} +
    else
        rm -rf "$WORK"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
    "$VPY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Start a demo server with its own data folder; sets BASE_URL.
start_server() {
    local role=$1 port data log
    port=$(free_port)
    data="$WORK/data-$role"
    log="$REPORT_DIR/server-$role.log"
    mkdir -p "$data"
    # --access-token-ttl: the default 900 s could run out during a long run.
    "$BIN" serve --demo --bind "127.0.0.1:$port" --data-dir "$data" --access-token-ttl 7200 \
        >"$log" 2>&1 &
    SERVER_PID=$!
    BASE_URL="http://127.0.0.1:$port"
    local deadline=$((SECONDS + 60))
    until [[ "$(curl -s -o /dev/null -w '%{http_code}' "$BASE_URL/readyz" || true)" == 200 ]]; do
        if ! kill -0 "$SERVER_PID" 2>/dev/null; then
            cat "$log" >&2
            die "the server exited before it was ready"
        fi
        ((SECONDS < deadline)) || die "the server was not ready within 60 s (see $log)"
        sleep 0.2
    done
}

# Sign in; prints the access token (`access_token` of TokenResponse) and the user's id
# (`user.id`), one per line.
login() {
    local email=$1 body
    body=$(curl -sS --fail-with-body -X POST "$BASE_URL/api/v1/auth/login" \
        -H 'Content-Type: application/json' \
        -d "{\"email\":\"$email\",\"password\":\"$DEMO_PASSWORD\"}") ||
        die "sign-in as $email failed: $body"
    "$VPY" -c 'import json, sys; r = json.load(sys.stdin); print(r["access_token"]); print(r["user"]["id"])' <<<"$body"
}

# ---- the schemathesis run ----------------------------------------------------------------
# The token goes in through the config file (expanded from the environment by schemathesis),
# not on the command line. auto-signup off: the token is supplied, schemathesis must not try
# to register users of its own through POST /api/v1/users + login.
CONFIG="$WORK/schemathesis.toml"
cat >"$CONFIG" <<'EOF'
[auth]
auto-signup = false

[headers]
Authorization = "Bearer ${STORECHECK_SCHEMATHESIS_TOKEN}"
EOF

# PATCH /api/v1/users/{id} with a `password` ends every session of that user. Fuzzing it as HQ
# with HQ's own id (schemathesis reuses ids seen in earlier responses) would
# end the session under test (seen in practice: every later request got 401). Rather than
# excluding the operation, this hook drops just `password` from a PATCH aimed at the signed-in
# user; every other PATCH, including passwords of other users, goes out as generated. (Disabling
# oneself or changing one's own role is refused with 409, which the spec documents.)
HOOKS="$WORK/hooks.py"
cat >"$HOOKS" <<'EOF'
import os

import schemathesis

SELF_ID = os.environ["STORECHECK_SCHEMATHESIS_SELF_ID"].lower()


@schemathesis.hook
def before_call(context, case, kwargs):
    operation = case.operation
    if operation.method.upper() != "PATCH" or operation.path != "/api/v1/users/{id}":
        return
    target = str((case.path_parameters or {}).get("id", "")).lower()
    if target == SELF_ID and isinstance(case.body, dict):
        case.body.pop("password", None)
EOF

CHECKS=not_a_server_error,response_schema_conformance,status_code_conformance,content_type_conformance,response_headers_conformance

# Exclusions, each one an operation that would end the very session under test part way through
# the run, after which every later request would just get 401 (which the spec allows, so the run
# would pass while testing nothing):
#   - logout: POST /api/v1/auth/logout ends the session of the access token it is sent with.
EXCLUDE=(--exclude-operation-id logout)
# Schemathesis (4.32) silently leaves out the operation that served the schema it loaded
# (GET /openapi.yaml) unless a filter names it; this catch-all include names every operation, so
# GET /openapi.yaml is tested like the rest.
INCLUDE=(--include-path-regex '^/')

read -r -a EXTRA <<<"${SCHEMATHESIS_EXTRA_ARGS:-}"

declare -A DURATION RESULT
overall=0
for role in $ROLES; do
    email=$(email_for_role "$role")
    echo
    echo "==> role $role ($email)"
    start_server "$role"
    { read -r token; read -r self_id; } < <(login "$email")
    [[ -n "${token:-}" && -n "${self_id:-}" ]] || die "no token for $email"
    started=$SECONDS
    status=0
    # Run from the scratch folder: schemathesis and hypothesis keep .schemathesis/ and
    # .hypothesis/ in the working directory, and would read a schemathesis.toml found there.
    # In the background, waited for, so that a TERM/INT to this script is acted on at once
    # (the trap stops schemathesis and the server) instead of after the run.
    exec {log_fd}> >(tee "$REPORT_DIR/schemathesis-$role.log")
    tee_pid=$!
    (
        cd "$WORK"
        STORECHECK_SCHEMATHESIS_TOKEN=$token STORECHECK_SCHEMATHESIS_SELF_ID=$self_id \
            SCHEMATHESIS_HOOKS=$HOOKS exec "$ST" --config-file "$CONFIG" --no-color run \
            "$BASE_URL/openapi.yaml" \
            --checks "$CHECKS" \
            "${INCLUDE[@]}" "${EXCLUDE[@]}" \
            --max-examples "$MAX_EXAMPLES" \
            --seed "$SEED" \
            --generation-database none \
            --workers 1 \
            --continue-on-failure \
            --request-timeout 30 \
            --report junit --report-junit-path "$REPORT_DIR/junit-$role.xml" \
            "${EXTRA[@]}"
    ) >&"$log_fd" 2>&1 &
    ST_PID=$!
    exec {log_fd}>&-
    wait "$ST_PID" || status=$?
    ST_PID=
    wait "$tee_pid" 2>/dev/null || true
    DURATION[$role]=$((SECONDS - started))
    # The session must have survived the run, or most of it only exercised 401s.
    me=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $token" "$BASE_URL/api/v1/me" || true)
    if [[ "$me" != 200 ]]; then
        echo "!! role $role: the access token no longer works after the run (GET /api/v1/me: $me)" >&2
        ((status != 0)) || status=1
    fi
    stop_server
    RESULT[$role]=$([[ $status == 0 ]] && echo passed || echo "FAILED (exit $status)")
    ((status == 0)) || overall=1
done

echo
echo "==> summary (max-examples $MAX_EXAMPLES, seed $SEED; logs and JUnit reports in $REPORT_DIR)"
for role in $ROLES; do
    printf '    %-17s %4ss  %s\n' "$role" "${DURATION[$role]}" "${RESULT[$role]}"
done
exit "$overall"
