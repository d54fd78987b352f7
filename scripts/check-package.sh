#!/usr/bin/env bash
# The crates as they would be published:
#   - `cargo package` succeeds for every crate meant for publishing, in dependency order (cargo
#     packages the workspace's crates against each other through a local overlay), and every
#     other crate says `publish = false`;
#   - the library crates' documentation builds with warnings denied (broken intra-doc links).
# Packages are not compiled here (--no-verify): scripts/check-embedder.sh builds the crates from
# a fresh project, and the test suite runs their doctests.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

read -r -a unpublished < <(cargo metadata --no-deps --format-version 1 | python3 -c '
import json, sys
print(" ".join(p["name"] for p in json.load(sys.stdin)["packages"] if p["publish"] == []))')
echo "check-package: not for publishing: ${unpublished[*]}"
exclude=()
for c in "${unpublished[@]}"; do exclude+=(--exclude "$c"); done
cargo package --workspace "${exclude[@]}" --no-verify --allow-dirty 2>&1 | grep -E 'Packaging|warning|error' || true
cargo package --workspace "${exclude[@]}" --no-verify --allow-dirty --list >/dev/null
echo "check-package: every publishable crate packages"

libs=(-p laminar-kafka-protocol -p laminar-kafka-client -p laminar-kafka-connector -p laminar-kafka-fake)
RUSTDOCFLAGS="-D warnings" cargo doc --no-deps "${libs[@]}"
echo "check-package: the library crates' docs build without warnings"
