#!/usr/bin/env bash
# Deletes what setup-api.sh created through the API (quotas, retention policies and recurring
# actions created over the API; the script's own stay). ACTEON_URL (default
# http://127.0.0.1:8080), ACTEON_API_KEY (sent when set). Needs curl and python3.
set -euo pipefail
url="${ACTEON_URL:-http://127.0.0.1:8080}"
for tool in curl python3; do
  command -v "$tool" >/dev/null || { echo "teardown: $tool is missing" >&2; exit 1; }
done
auth=()
[[ -n ${ACTEON_API_KEY:-} ]] && auth=(-H "Authorization: Bearer $ACTEON_API_KEY")
scope="namespace=iot&tenant=smartbuilding-hq"

# The ids of the API-created entries of a listing.
api_ids() {
  curl -sS --fail "${auth[@]}" "$url$1?$scope" |
    python3 -c 'import json,sys; [print(e["id"]) for e in json.load(sys.stdin)[sys.argv[1]] if e["source"] == "api"]' "$2"
}

for kind in "quotas quotas" "retention policies" "recurring recurring_actions"; do
  set -- $kind
  for id in $(api_ids "/v1/$1" "$2"); do
    curl -sS --fail "${auth[@]}" -X DELETE "$url/v1/$1/$id" -o /dev/null
    echo "deleted $1/$id"
  done
done
