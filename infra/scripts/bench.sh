#!/usr/bin/env bash
# `make bench`: release function binaries behind a local Lambda Runtime API against fresh
# emulators; prints the figures and writes target/bench/results.json (docs/benchmarks.md).
#   BENCH_WARM=<n>   warm invocations per request (default 100)
#   BENCH_NO_ZIP=1   skip the arm64 packages (cargo lambda + zig) and their sizes
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
target=${CARGO_TARGET_DIR:-$root/target}
# Two builds: cargo unifies features across the packages of one build, so the functions that
# serve no HTTP are built apart from the API functions and the `web` adapter crate they share.
http=(-p auth-fn -p jobs-fn -p executions-fn -p taxonomy-fn -p notifications-fn -p settings-fn -p system-fn)
other=(-p executor-fn -p maintenance-fn)

infra/scripts/setup.sh
echo "bench: building release binaries (x86_64, run here)" >&2
cargo build --release "${http[@]}"
cargo build --release "${other[@]}"
if [ -z "${BENCH_NO_ZIP:-}" ]; then
  if ! command -v cargo-lambda >/dev/null; then pip install -q cargo-lambda ziglang; fi
  rustup target add aarch64-unknown-linux-gnu >/dev/null 2>&1 || true
  echo "bench: building the Lambda packages (arm64, zipped)" >&2
  cargo lambda build --release --arm64 --output-format zip "${http[@]}"
  cargo lambda build --release --arm64 --output-format zip "${other[@]}"
  export BENCH_ZIP_DIR="$target/lambda"
fi
cargo build -p infra --bin bench

state=.local/bench
trap 'infra/scripts/emulators.sh stop $state' EXIT INT TERM
infra/scripts/emulators.sh start 8500 5550 $state
AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local AWS_REGION=ap-northeast-1 \
AWS_EC2_METADATA_DISABLED=true LOCAL_MODE=true \
AWS_ENDPOINT_URL=http://127.0.0.1:5550 AWS_ENDPOINT_URL_DYNAMODB=http://127.0.0.1:8500 \
BENCH_DDB=http://127.0.0.1:8500 BENCH_BIN_DIR="$target/release" \
BENCH_OUT="$target/bench/results.json" \
  "$target/debug/bench"
