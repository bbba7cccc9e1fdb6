#!/usr/bin/env bash
# Creates the seed's runtime resources through the API of a running `acteon serve`: the quota
# (500 an hour for smartbuilding-hq), the retention policy (audit 7 days, events 2 days) and the
# heartbeat recurring action (every 5 minutes). ACTEON_URL (default http://127.0.0.1:8080) and
# ACTEON_API_KEY (sent when set) say where and how. Needs curl.
set -euo pipefail
url="${ACTEON_URL:-http://127.0.0.1:8080}"
command -v curl >/dev/null || { echo "setup-api: curl is missing (apt-get install curl)" >&2; exit 1; }
auth=()
[[ -n ${ACTEON_API_KEY:-} ]] && auth=(-H "Authorization: Bearer $ACTEON_API_KEY")

# POST a body; 201 (created) and 409 (already there, from an earlier run) are both fine.
create() {
  local what=$1 path=$2 body=$3 status
  status=$(curl -sS -o /dev/null -w '%{http_code}' "${auth[@]}" -X POST "$url$path" \
    -H 'Content-Type: application/json' -d "$body")
  case $status in
    201) echo "created $what" ;;
    409) echo "$what already exists" ;;
    *) echo "setup-api: creating $what failed with HTTP $status" >&2; exit 1 ;;
  esac
}

create "quota: 500 actions an hour for smartbuilding-hq" /v1/quotas '{
  "namespace": "iot", "tenant": "smartbuilding-hq", "max_actions": 500, "window": "hourly",
  "overage_behavior": "block", "description": "Smart building hourly quota"}'
create "retention: audit 7 days, events 2 days" /v1/retention '{
  "namespace": "iot", "tenant": "smartbuilding-hq", "audit_ttl_seconds": 604800,
  "event_ttl_seconds": 172800, "description": "IoT telemetry retention"}'
create "recurring: device heartbeat every 5 minutes" /v1/recurring '{
  "name": "api-device-heartbeat", "namespace": "iot", "tenant": "smartbuilding-hq",
  "cron_expression": "*/5 * * * *", "timezone": "UTC", "provider": "event-bus",
  "action_type": "device_lifecycle",
  "payload": {"event": "heartbeat_check", "source": "acteon.scheduler"},
  "description": "Device heartbeat check"}'
