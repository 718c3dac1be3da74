#!/usr/bin/env bash
# Starts the emulator front (target/debug/aws-front, infra/src/front.rs) in front of DynamoDB
# Local and moto, recording every AWS call for the IAM check, and waits until it answers.
# Its pid goes beside the emulators', so `emulators.sh stop <state-dir>` stops it too.
#   front.sh <front-port> <dynamodb-port> <moto-port> <state-dir> <recording-file> [quota-scale]
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
port=${1:?front port}; ddb=${2:?dynamodb port}; moto=${3:?moto port}; dir=${4:?state dir}
record=${5:?recording file}; scale=${6:-0.05}
mkdir -p "$dir"
"$root/target/debug/aws-front" --listen "127.0.0.1:$port" \
  --dynamodb "http://127.0.0.1:$ddb" --moto "http://127.0.0.1:$moto" \
  --record "$record" --quota-scale "$scale" >"$dir/front.log" 2>&1 &
echo $! >"$dir/front.pid"
for _ in $(seq 1 100); do
  if curl -s -o /dev/null "http://127.0.0.1:$port/"; then exit 0; fi
  sleep 0.1
done
echo "front: did not start on port $port" >&2
exit 1
