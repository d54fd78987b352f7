#!/usr/bin/env bash
# Regenerates client/tests/data/msk_iam_vectors.jsonl with AWS's Java library (see README.md).
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../../.." && pwd)
WORK=${TMPDIR:-/tmp}/laminar-msk-iam-vectors
mkdir -p "$WORK/classes"
mvn -B -q -f "$HERE/pom.xml" org.apache.maven.plugins:maven-dependency-plugin:3.6.1:copy-dependencies \
    -DoutputDirectory="$WORK/libs" >"$WORK/mvn.log" 2>&1 || { tail -n 40 "$WORK/mvn.log" >&2; exit 1; }
javac -nowarn -d "$WORK/classes" -cp "$WORK/libs/*" "$HERE/MskIamVectors.java"
java -cp "$WORK/classes:$WORK/libs/*" MskIamVectors 2>/dev/null >"$ROOT/client/tests/data/msk_iam_vectors.jsonl"
echo "wrote $(wc -l <"$ROOT/client/tests/data/msk_iam_vectors.jsonl") vectors to client/tests/data/msk_iam_vectors.jsonl"
