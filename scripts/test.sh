#!/usr/bin/env bash
# Runs every test file under test/ with node's test runner (TypeScript through tsx).
# Pass file paths to run a subset: bash scripts/test.sh test/resp/*.test.ts
set -euo pipefail
cd "$(dirname "$0")/.."
if [ $# -gt 0 ]; then
  files=("$@")
else
  mapfile -t files < <(find test -name '*.test.ts' | sort)
fi
exec node --import tsx --test --test-concurrency=2 --test-timeout=300000 "${files[@]}"
