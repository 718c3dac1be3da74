#!/usr/bin/env bash
# `make package`: builds every function of template.yaml as SAM deploys it (`sam build`,
# BuildMethod rust-cargolambda: cargo-lambda + zig cross-compiling to arm64), then boots each
# built `bootstrap` under qemu-user against a local Lambda Runtime API with that function's
# template environment and one invocation (target/debug/boot, infra/src/bin/boot.rs), printing
# `booted <LogicalId>` per function.
#
# Installs what it needs, once: aws-sam-cli, cargo-lambda and ziglang (PyPI, in
# .local/sam-venv), the aarch64 Rust standard library (rustup), qemu-user and the arm64 C
# runtime (Debian's qemu-user, libc6-arm64-cross, libgcc-s1-arm64-cross).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
venv=.local/sam-venv
if [ ! -x "$venv/bin/sam" ] || [ ! -x "$venv/bin/cargo-lambda" ]; then
  echo "package: installing aws-sam-cli, cargo-lambda and ziglang into $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet 'aws-sam-cli==1.170.0' 'cargo-lambda==1.9.2' 'ziglang==0.17.1'
fi
rustup target list --installed 2>/dev/null | grep -qx aarch64-unknown-linux-gnu \
  || rustup target add aarch64-unknown-linux-gnu
if ! command -v qemu-aarch64 >/dev/null || [ ! -e /usr/aarch64-linux-gnu/lib/libgcc_s.so.1 ]; then
  echo "package: installing qemu-user and the arm64 C runtime"
  apt-get update -qq && apt-get install -y -qq qemu-user libc6-arm64-cross libgcc-s1-arm64-cross >/dev/null
fi
# cargo-lambda finds zig through the venv's python (`python -m ziglang`).
export PATH="$root/$venv/bin:$PATH"
export SAM_CLI_TELEMETRY=0
started=$(date +%s)
# rust-cargolambda builds in place: every function shares ./target (aarch64 release).
sam build --beta-features --no-cached --template template.yaml --build-dir .aws-sam/build
echo "package: sam build took $(( $(date +%s) - started )) s"
for f in .aws-sam/build/*/bootstrap; do
  printf '%s %s\n' "$(du -k "$f" | cut -f1) KB" "$f"
done
cargo build -q -p infra --bin boot
target/debug/boot --build-dir .aws-sam/build --template template.yaml \
  --runner "qemu-aarch64 -L /usr/aarch64-linux-gnu"
