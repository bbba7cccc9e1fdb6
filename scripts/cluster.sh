#!/usr/bin/env bash
# Runs one `acteon` command as an N-process cluster on loopback, for development and tests.
#
#   scripts/cluster.sh N run SCRIPT --source kafka://127.0.0.1:9092/TOPIC \
#     --audit target/audit-{process}.jsonl --dry-run target/dry-run-{process}
#   scripts/cluster.sh 2 serve SCRIPT --listen '127.0.0.1:808{process}'
#
# Every process gets --processes N --process I --hosts FILE (addresses 127.0.0.1:PORT..PORT+N-1,
# PORT from ACTEON_CLUSTER_PORT, default 2101); a literal {process} in the arguments becomes the
# process's index, so each writes its own files. The binary is ACTEON_BIN, else a release build
# of this checkout. Every process is stopped when one fails or on Ctrl-C; the exit code is the
# first failure's, else 0.
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ $# -lt 2 || "$1" == "-h" || "$1" == "--help" ]]; then
  sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'
  exit 2
fi
processes=$1
shift
[[ "$processes" =~ ^[1-9][0-9]*$ ]] || { echo "cluster: N must be a positive number, got '$processes'" >&2; exit 2; }

bin=${ACTEON_BIN:-}
if [[ -z "$bin" ]]; then
  cargo build --release --locked -q -p acteon-cli
  bin=target/release/acteon
fi
port=${ACTEON_CLUSTER_PORT:-2101}

hosts=$(mktemp)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  rm -f "$hosts"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
for ((i = 0; i < processes; i++)); do echo "127.0.0.1:$((port + i))" >>"$hosts"; done

for ((i = 0; i < processes; i++)); do
  args=()
  for arg in "$@"; do args+=("${arg//\{process\}/$i}"); done
  "$bin" "${args[@]}" --processes "$processes" --process "$i" --hosts "$hosts" &
  pids+=($!)
done

status=0
for pid in "${pids[@]}"; do
  code=0
  wait "$pid" || code=$?
  if [[ $code -ne 0 ]]; then
    if [[ $status -eq 0 ]]; then
      status=$code
      echo "cluster: a process failed (exit $code); stopping the others" >&2
      for other in "${pids[@]}"; do kill "$other" 2>/dev/null || true; done
    fi
  fi
done
pids=()
exit "$status"
