#!/usr/bin/env bash
# Sends the seed's 21 sample events (../telemetry.jsonl) to a running `acteon serve`, one
# POST /v1/dispatch each, and prints each decision: id, outcome, rule, target. ACTEON_URL
# (default http://127.0.0.1:8080) and ACTEON_API_KEY (sent when set). Needs curl and python3.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
url="${ACTEON_URL:-http://127.0.0.1:8080}"
for tool in curl python3; do
  command -v "$tool" >/dev/null || { echo "send-telemetry: $tool is missing" >&2; exit 1; }
done
auth=()
[[ -n ${ACTEON_API_KEY:-} ]] && auth=(-H "Authorization: Bearer $ACTEON_API_KEY")

printf '%-16s %-16s %-28s %s\n' ACTION OUTCOME RULE TARGET
while IFS= read -r event; do
  [[ -z ${event// /} ]] && continue
  answer=$(curl -sS "${auth[@]}" -X POST "$url/v1/dispatch" -H 'Content-Type: application/json' \
    -d "$event" -w '\n%{http_code}')
  status=${answer##*$'\n'}
  body=${answer%$'\n'*}
  if [[ $status != 200 ]]; then
    echo "FAILED (HTTP $status): $body"
    continue
  fi
  python3 -c '
import json, sys
d = json.loads(sys.argv[1])
print("%-16s %-16s %-28s %s" % (d["action_id"], d["outcome"], d.get("rule") or "-", d.get("target") or "-"))
' "$body"
done < "$here/telemetry.jsonl"
