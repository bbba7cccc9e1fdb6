#!/usr/bin/env bash
# The benchmark suite, as the README's performance table was made: starts the Kafka broker
# (scripts/services.sh, stopped at exit when this script started it), then runs every workload
# of benches/benches/suite.rs and prints the table; the figures also go to
# target/bench-suite.json. Arguments go to the suite (e.g. --only seed-file,kafka).
# ACTEON_BENCH_SCALE=0.1 makes every workload ten times smaller, for a quick look.
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ "${1:-}" == "-h" || "${1:-}" == "--help" ]]; then
  sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//'
  exit 0
fi
if ! (exec 3<>/dev/tcp/127.0.0.1/9092) 2>/dev/null; then
  trap 'scripts/services.sh down kafka' EXIT
  scripts/services.sh up kafka
fi
# The memory workload runs the binary itself, as a user does.
cargo build --release --locked -p acteon-cli
cargo bench --locked -p acteon-benches --bench suite -- "$@"
