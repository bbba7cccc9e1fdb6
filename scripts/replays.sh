#!/usr/bin/env bash
# Replays one two-worker full-path run of 100,000 actions N times (default 50) through the
# release binary and says how many audits are byte-identical to the first (the README's
# determinism figure). The CI test keeps a smaller loop (engine/tests/windows_and_workers.rs).
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ "${1:-}" == "-h" || "${1:-}" == "--help" ]]; then
  sed -n '2,4p' "$0" | sed 's/^# \{0,1\}//'
  echo "usage: scripts/replays.sh [N]"
  exit 0
fi
cargo build --release --locked -p acteon-cli
ACTEON_REPLAYS="${1:-50}" cargo bench --locked -p acteon-benches --bench suite -- --only replays
