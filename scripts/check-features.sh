#!/usr/bin/env bash
# Every cargo feature of the command line builds on its own: no features at all, then each feature
# alone (`--no-default-features --features X`). Uses `cargo check` (type-checking, no code
# generation).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# The library crates' feature sets are checked by scripts/check-embedder.sh, from a fresh project
# with the newest dependencies; here the command line's, with the workspace's lockfile.
crates=(laminar-kafka-cli)
failed=()
checked=0
for crate in "${crates[@]}"; do
    features=$(cargo metadata --no-deps --format-version 1 | python3 -c '
import json, sys
crate = sys.argv[1]
for p in json.load(sys.stdin)["packages"]:
    if p["name"] == crate:
        print(" ".join(f for f in sorted(p["features"]) if f != "default"))
' "$crate")
    for feature in "" $features; do
        label="$crate ${feature:-(no features)}"
        if cargo check -q -p "$crate" --no-default-features ${feature:+--features "$feature"} 2>/tmp/check-features.log; then
            echo "ok      $label"
        else
            echo "FAILED  $label"
            sed 's/^/        /' /tmp/check-features.log | head -20
            failed+=("$label")
        fi
        checked=$((checked + 1))
    done
done
if ((${#failed[@]})); then
    echo "check-features: ${#failed[@]} of $checked feature sets do not build alone: ${failed[*]}" >&2
    exit 1
fi
echo "check-features: all $checked feature sets build alone"
