#!/usr/bin/env bash
# Runs every benchmark group (criterion and the HTTP load test), then writes
# BENCHMARKS.md from the results. Extra arguments go to criterion.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo bench -p session-benches "$@"
cargo run -q --release -p session-benches --bin bench-report
