#!/usr/bin/env bash
# The dependency policy of the default build: no OpenSSL, no librdkafka (or other C Kafka library),
# no aws-lc, and no `-sys` crate but zstd's, SQLite's and linux-raw-sys (Rust). Fails, naming the
# offender and who pulls it in, when one appears. Bench-only rivals (the `rival-librdkafka` feature
# of benches/client) are not part of the default build and are not checked here.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

tree=$(cargo tree --workspace -e normal --prefix none --format '{p}' | sed 's/ (\*)$//' | sort -u)
# linux-raw-sys (through rustix and tempfile, which DataFusion's runner uses) is Rust: raw Linux
# syscall definitions, no C library behind it. libsqlite3-sys is SQLite compiled in (`bundled`):
# the server's embedded database, no system library.
bad=$(grep -iE '^(openssl|native-tls|rdkafka|librdkafka|aws-lc)|-sys ' <<<"$tree" | grep -vE '^(zstd-sys|linux-raw-sys|libsqlite3-sys) ' || true)
if [[ -n $bad ]]; then
    echo "check-deps: the default build pulls in forbidden crates:" >&2
    while read -r crate; do
        name=${crate%% *}
        echo "  $crate, through:" >&2
        cargo tree --workspace -e normal -i "$name" --depth 3 2>/dev/null | sed 's/^/      /' >&2 || true
    done <<<"$bad"
    exit 1
fi
echo "check-deps: $(wc -l <<<"$tree") crates in the default build; C code only in zstd-sys, libsqlite3-sys (the server's SQLite) and ring's own C/asm"
