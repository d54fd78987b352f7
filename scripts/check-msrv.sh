#!/usr/bin/env bash
# The `rust-version` each library crate declares is true: rustup installs that toolchain and the
# crate type-checks with it, every feature on, against the workspace's lockfile. Crates that
# declare the same version are checked together. The CLI, runner and server declare DataFusion's
# version, which the main build's toolchain meets.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target/msrv}

declare -A by_version
while read -r name version; do
    by_version[$version]+=" -p $name"
done < <(cargo metadata --no-deps --format-version 1 | python3 -c '
import json, sys
libs = {"laminar-kafka-messages", "laminar-kafka-protocol", "laminar-kafka-client",
        "laminar-kafka-connector", "laminar-kafka-fake"}
for p in json.load(sys.stdin)["packages"]:
    if p["name"] in libs:
        if not p["rust_version"]:
            sys.exit(p["name"] + " declares no rust-version")
        print(p["name"], p["rust_version"])
')

for version in $(printf '%s\n' "${!by_version[@]}" | sort -V); do
    rustup toolchain list | grep -q "^$version-" || rustup toolchain install "$version" --profile minimal
    echo "check-msrv: Rust $version:${by_version[$version]//-p /}"
    # shellcheck disable=SC2086
    cargo +"$version" check -q ${by_version[$version]} --all-features
done
echo "check-msrv: every library crate builds with the Rust version it declares"
