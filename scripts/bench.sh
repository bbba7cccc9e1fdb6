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
# The HTTP workload's load generator: the distribution's wrk, installed when missing.
if ! command -v wrk >/dev/null 2>&1; then
  as_root=()
  [[ $(id -u) -ne 0 ]] && as_root=(sudo)
  echo "bench.sh: installing wrk (apt-get)" >&2
  "${as_root[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${as_root[@]}" apt-get install -y -qq wrk >&2
fi
# The memory workload runs the binary itself, as a user does.
cargo build --release --locked -p acteon-cli
cargo bench --locked -p acteon-benches --bench suite -- "$@"
