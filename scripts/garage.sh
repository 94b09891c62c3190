#!/usr/bin/env bash
# A throw-away single-node Garage (a distributed S3-compatible store) on
# loopback, for running the photo tests against a real S3 server:
#
#   eval "$(bash scripts/garage.sh start)"   # prints the STORECHECK_TEST_S3_* settings
#   cargo test --workspace -- photo phone
#   bash scripts/garage.sh stop
#
# The garage binary is taken from $GARAGE, then PATH, then the tool cache
# ($STORECHECK_TOOLS, default ~/.cache/storecheck-tools/bin); `install`
# builds it there once (`cargo install garage --version 2.5.0 --locked`,
# about 11 minutes on 2 cores).
set -euo pipefail

VERSION=2.5.0
TOOLS="${STORECHECK_TOOLS:-$HOME/.cache/storecheck-tools}"
STATE="${STORECHECK_GARAGE_DIR:-/tmp/storecheck-garage}"
PORT="${STORECHECK_GARAGE_PORT:-3900}"
BUCKET=storecheck-test

garage_bin() {
  if [ -n "${GARAGE:-}" ]; then echo "$GARAGE"; return; fi
  if [ -x "$TOOLS/bin/garage" ]; then echo "$TOOLS/bin/garage"; return; fi
  command -v garage || { echo "garage not found: run 'bash scripts/garage.sh install'" >&2; exit 1; }
}

install() {
  if [ -x "$TOOLS/bin/garage" ] && "$TOOLS/bin/garage" --version 2>/dev/null | grep -q "$VERSION"; then
    echo "garage $VERSION already in $TOOLS/bin" >&2
    return
  fi
  cargo install garage --version "$VERSION" --locked --root "$TOOLS" --target-dir "$TOOLS/target" >&2
  rm -rf "$TOOLS/target"
}

start() {
  local bin; bin=$(garage_bin)
  stop >/dev/null 2>&1 || true
  rm -rf "$STATE"; mkdir -p "$STATE"
  cat >"$STATE/garage.toml" <<EOF
metadata_dir = "$STATE/meta"
data_dir = "$STATE/data"
db_engine = "sqlite"
replication_factor = 1
rpc_bind_addr = "127.0.0.1:$((PORT + 1))"
rpc_public_addr = "127.0.0.1:$((PORT + 1))"
rpc_secret = "$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')"

[s3_api]
s3_region = "garage"
api_bind_addr = "127.0.0.1:$PORT"
root_domain = ".s3.garage.localhost"

[admin]
api_bind_addr = "127.0.0.1:$((PORT + 3))"
admin_token = "$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')"
EOF
  local g=("$bin" -c "$STATE/garage.toml")
  nohup "${g[@]}" server >"$STATE/garage.log" 2>&1 &
  echo $! >"$STATE/pid"
  local node=""
  for _ in $(seq 1 200); do
    if "${g[@]}" status >/dev/null 2>&1; then
      node=$("${g[@]}" node id -q 2>/dev/null | cut -d@ -f1)
      [ -n "$node" ] && break
    fi
    sleep 0.1
  done
  [ -n "$node" ] || { cat "$STATE/garage.log" >&2; echo "garage did not start" >&2; exit 1; }
  "${g[@]}" layout assign -z dc1 -c 1G "$node" >/dev/null
  "${g[@]}" layout apply --version 1 >/dev/null
  local key; key=$("${g[@]}" key create storecheck-test)
  local id secret
  id=$(printf '%s\n' "$key" | awk '/Key ID/ {print $NF}')
  secret=$(printf '%s\n' "$key" | awk '/Secret key/ {print $NF}')
  "${g[@]}" bucket create "$BUCKET" >/dev/null
  "${g[@]}" bucket allow --read --write --owner "$BUCKET" --key storecheck-test >/dev/null
  # The S3 API answers once the layout is live.
  for _ in $(seq 1 100); do
    curl -s -o /dev/null "http://127.0.0.1:$PORT/" && break
    sleep 0.1
  done
  cat <<EOF
export STORECHECK_TEST_S3_ENDPOINT=http://127.0.0.1:$PORT
export STORECHECK_TEST_S3_REGION=garage
export STORECHECK_TEST_S3_BUCKET=$BUCKET
export STORECHECK_TEST_S3_ACCESS_KEY_ID=$id
export STORECHECK_TEST_S3_SECRET_ACCESS_KEY=$secret
EOF
}

stop() {
  if [ -f "$STATE/pid" ]; then
    local pid; pid=$(cat "$STATE/pid")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    rm -f "$STATE/pid"
  fi
}

case "${1:-}" in
  install) install ;;
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 install|start|stop" >&2; exit 2 ;;
esac
