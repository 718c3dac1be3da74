#!/usr/bin/env bash
# Schema-driven fuzzing of the whole API (schemathesis, from PyPI) against the real local stack:
# fresh emulators, the merged router on a spare port, an admin token. Checks: no 5xx, every
# response conforms to the OpenAPI document. Prints how many requests were made.
#   infra/scripts/fuzz.sh [max-examples]
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
examples=${1:-25}
ddb=${FUZZ_DDB_PORT:-8200}; moto=${FUZZ_MOTO_PORT:-5250}; api=${FUZZ_API_PORT:-3100}; slack=${FUZZ_SLACK_PORT:-3101}
state=.local/fuzz
venv=.local/fuzz-venv
[ -x "$venv/bin/schemathesis" ] || { python3 -m venv "$venv" && "$venv/bin/pip" install --quiet 'schemathesis==4.32.5'; }

export AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local AWS_REGION=ap-northeast-1 \
  AWS_EC2_METADATA_DISABLED=true LOCAL_MODE=true ALLOW_PRIVATE_TARGETS=true \
  AWS_ENDPOINT_URL=http://127.0.0.1:$moto AWS_ENDPOINT_URL_DYNAMODB=http://127.0.0.1:$ddb \
  AWS_MAX_ATTEMPTS=1 LOCAL_API_ADDR=127.0.0.1:$api LOCAL_SLACK_ADDR=127.0.0.1:$slack TABLE_NAME=fuzz SCHEDULE_GROUP_NAME=fuzz \
  GITHUB_API_BASE_URL=http://127.0.0.1:9 RUST_LOG=warn
cleanup() {
  [ -n "${api_pid:-}" ] && kill "$api_pid" 2>/dev/null || true
  infra/scripts/emulators.sh stop "$state"
}
trap cleanup EXIT INT TERM
infra/scripts/emulators.sh start "$ddb" "$moto" "$state"
cargo build -q --workspace --bins
"${CARGO_TARGET_DIR:-target}/debug/infra" >"$state/api.log" 2>&1 &
api_pid=$!
for _ in $(seq 1 100); do curl -s -o /dev/null "http://127.0.0.1:$api/api/v2/health" && break; sleep 0.2; done

base="http://127.0.0.1:$api"
token() {
  curl -s -X POST "$base/api/v2/auth/login" -H 'content-type: application/json' \
    -d '{"username":"admin","password":"admin123"}' | python3 -c 'import sys,json; print(json.load(sys.stdin)["access_token"])'
}
t=$(token)
curl -s -o /dev/null -X POST "$base/api/v2/pic-teams" -H "authorization: Bearer $t" \
  -H 'content-type: application/json' -d '{"name":"PAM","slack_handle":"@pam"}'

run() {
  "$venv/bin/schemathesis" run "$base/api/v2/openapi.json" --url "$base" \
    -H "Authorization: Bearer $1" --checks not_a_server_error,response_schema_conformance \
    --max-examples "$examples" --seed 1 --no-color "${@:2}" | tee -a "$state/fuzz.out"
}
: >"$state/fuzz.out"
# Everything but the operations that end the fuzzing admin's session (logout, a role or
# password change, a deactivation or delete of itself), then those, each with a fresh login.
run "$t" --exclude-path-regex '^/api/v2/auth/(users/\{id\}|logout)$'
run "$(token)" --include-path-regex '^/api/v2/auth/users/\{id\}$'
run "$(token)" --include-path-regex '^/api/v2/auth/logout$'
echo "fuzz: $(grep -Eo '[0-9]+ generated' "$state/fuzz.out" | awk '{s+=$1} END {print s}') requests, no server error, no schema violation"
