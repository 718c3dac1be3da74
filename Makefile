# Two commands: `make dev` starts everything locally; `make test` runs every test.
SHELL := /bin/bash
DEV_DDB_PORT ?= 8000
DEV_MOTO_PORT ?= 5050
TEST_DDB_PORT ?= 8100
TEST_MOTO_PORT ?= 5150
TEST_FRONT_PORT ?= 5160
# Every AWS call the black-box tests make, per function (infra/src/front.rs).
IAM_RECORDING ?= .local/iam/calls.jsonl

# Fake credentials and a region for the emulators; the SDK reads the standard variables.
AWS_ENV = AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local AWS_REGION=ap-northeast-1 \
	AWS_EC2_METADATA_DISABLED=true LOCAL_MODE=true

.PHONY: dev test setup lint unit openapi bench check-iam package bench-reconcile

setup:
	@infra/scripts/setup.sh

# Emulators + API on http://127.0.0.1:3000/api/v2 + local schedule trigger. Ctrl-C stops all.
dev: setup
	@trap 'infra/scripts/emulators.sh stop .local/dev' EXIT INT TERM; \
	infra/scripts/emulators.sh start $(DEV_DDB_PORT) $(DEV_MOTO_PORT) .local/dev && \
	$(AWS_ENV) AWS_ENDPOINT_URL=http://127.0.0.1:$(DEV_MOTO_PORT) \
	AWS_ENDPOINT_URL_DYNAMODB=http://127.0.0.1:$(DEV_DDB_PORT) \
	ALLOW_PRIVATE_TARGETS=true MAIL_FROM=$${MAIL_FROM:-cron@example.com} TABLE_NAME=$${TABLE_NAME:-cron-jobs} SCHEDULE_GROUP_NAME=$${SCHEDULE_GROUP_NAME:-cron-jobs} \
	cargo run -p infra --bin infra

# Unit tests, black-box tests against fresh emulators behind the emulator front (AWS's limits,
# throttling for `thr-` resources, every call recorded), the IAM check of those calls against
# template.yaml, and the template lint.
test: setup
	@trap 'infra/scripts/emulators.sh stop .local/test' EXIT INT TERM; \
	infra/scripts/emulators.sh start $(TEST_DDB_PORT) $(TEST_MOTO_PORT) .local/test && \
	cargo build --workspace --bins && \
	infra/scripts/front.sh $(TEST_FRONT_PORT) $(TEST_DDB_PORT) $(TEST_MOTO_PORT) .local/test $(IAM_RECORDING) && \
	$(AWS_ENV) AWS_ENDPOINT_URL=http://127.0.0.1:$(TEST_FRONT_PORT) \
	AWS_ENDPOINT_URL_DYNAMODB=http://127.0.0.1:$(TEST_FRONT_PORT) AWS_MAX_ATTEMPTS=1 \
	cargo nextest run --workspace --no-fail-fast && \
	target/debug/check-iam --recording $(IAM_RECORDING)
	cfn-lint template.yaml

# Holds the last recording of `make test` against template.yaml's policies (and cronctl's
# infra/cronctl/iam-policy.json) in seconds; runs `make test` first if there is none.
check-iam:
	@[ -s $(IAM_RECORDING) ] || $(MAKE) test
	@cargo run -q -p infra --bin check-iam -- --recording $(IAM_RECORDING)

# sam build of every function (arm64, cargo-lambda), then each bootstrap booted under
# qemu-user against a local Lambda Runtime API: prints `booted <LogicalId>` per function.
package:
	@infra/scripts/package.sh

# The reconciliation of RECONCILE_JOBS (10,000) active jobs under the front's throttling mode at
# QUOTA_SCALE × Scheduler's default rates (1.0: the real defaults); prints the time and writes
# target/bench/reconcile.json, which `make bench` carries into results.json (`reconcile_s`).
QUOTA_SCALE ?= 1.0
bench-reconcile: setup
	@trap 'infra/scripts/emulators.sh stop .local/bench-reconcile' EXIT INT TERM; \
	infra/scripts/emulators.sh start 8200 5250 .local/bench-reconcile && \
	cargo build -q -p infra --bin aws-front && \
	infra/scripts/front.sh 5260 8200 5250 .local/bench-reconcile .local/bench-reconcile/calls.jsonl $(QUOTA_SCALE) && \
	$(AWS_ENV) AWS_ENDPOINT_URL=http://127.0.0.1:5260 AWS_ENDPOINT_URL_DYNAMODB=http://127.0.0.1:5260 \
	BENCH_RECONCILE_OUT=$(CURDIR)/target/bench/reconcile.json QUOTA_SCALE=$(QUOTA_SCALE) \
	cargo nextest run -p e2e-tests --test quotas --run-ignored only --no-capture

unit:
	cargo nextest run --workspace --lib --bins

# Regenerates the OpenAPI document the system function serves (a test fails when it is stale).
openapi:
	cargo run -q -p infra --bin openapi > functions/system/openapi.json

# Release binaries behind a local Lambda Runtime API: cold start, warm latency and CPU, memory,
# DynamoDB calls and items read at 1,000 and 100,000 executions, bulk uploads, job delete,
# package sizes. Prints a table and writes target/bench/results.json (docs/benchmarks.md).
bench:
	@infra/scripts/bench.sh
