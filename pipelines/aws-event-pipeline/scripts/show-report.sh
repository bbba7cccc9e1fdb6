#!/usr/bin/env bash
# Reads 8 endpoints of a running `acteon serve` and prints them as tables: the audit by outcome,
# chains, events, provider health, quotas, groups, recurring actions, retention policies.
# ACTEON_URL (default http://127.0.0.1:8080), ACTEON_API_KEY (sent when set). Needs curl and
# python3.
set -euo pipefail
url="${ACTEON_URL:-http://127.0.0.1:8080}"
for tool in curl python3; do
  command -v "$tool" >/dev/null || { echo "show-report: $tool is missing" >&2; exit 1; }
done
auth=()
[[ -n ${ACTEON_API_KEY:-} ]] && auth=(-H "Authorization: Bearer $ACTEON_API_KEY")
scope="namespace=iot&tenant=smartbuilding-hq"
fetch() { curl -sS --fail "${auth[@]}" "$url$1"; }

# The audit, every page.
audit='[]'
cursor=''
for _ in $(seq 1 1000); do
  page=$(fetch "/v1/audit?$scope&limit=1000${cursor:+&cursor=$cursor}")
  audit=$(python3 -c 'import json,sys; print(json.dumps(json.loads(sys.argv[1]) + json.loads(sys.argv[2])["records"]))' "$audit" "$page")
  cursor=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1]).get("next_cursor") or "")' "$page")
  [[ -z $cursor ]] && break
done

python3 - "$audit" "$(fetch "/v1/chains?$scope")" "$(fetch "/v1/events?$scope&limit=1000")" \
  "$(fetch /v1/providers/health)" "$(fetch "/v1/quotas?$scope")" "$(fetch /v1/groups)" \
  "$(fetch "/v1/recurring?$scope")" "$(fetch "/v1/retention?$scope")" <<'PY'
import collections, json, sys
audit, chains, events, health, quotas, groups, recurring, retention = map(json.loads, sys.argv[1:])

def table(title, header, rows):
    print(f"\n== {title} ({len(rows)})")
    rows = [[("-" if v is None else str(v)) for v in row] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(header)]
    for row in [header] + rows:
        print("  " + "  ".join(v.ljust(w) for v, w in zip(row, widths)).rstrip())

by_outcome = collections.Counter(r["outcome"] for r in audit)
table("Audit by outcome", ["OUTCOME", "RECORDS"], sorted(by_outcome.items()))
redacted = sum('"[REDACTED]"' in json.dumps(r.get("payload")) for r in audit)
print(f"  records {len(audit)}, with redacted payload fields {redacted}")
table("Chains", ["CHAIN", "STATE", "STEPS"],
      [[c["chain_id"], c["state"], " > ".join(c["path"])] for c in chains["chains"]])
table("Events", ["ACTION", "STATE", "RULE"],
      [[e["action_id"], e["state"], e["rule"]] for e in events["events"]])
table("Provider health", ["PROVIDER", "BREAKER", "OK", "FAILED", "P50 MS", "P99 MS"],
      [[p["provider"], p["circuit_breaker_state"], p["successes"], p["failures"],
        p["p50_latency_ms"], p["p99_latency_ms"]] for p in health["providers"]])
table("Quotas", ["ID", "TENANT", "LIMIT", "WINDOW", "USED", "SOURCE"],
      [[q["id"], q["tenant"], q["max_actions"], q["window"], q["usage"]["used"], q["source"]]
       for q in quotas["quotas"]])
table("Groups", ["GROUP", "RULE", "EVENTS", "STATE"],
      [[g["group_key"], g["rule"], g["event_count"], g["state"]] for g in groups["groups"]])
table("Recurring actions", ["ID", "CRON", "TIMEZONE", "STATUS", "NEXT"],
      [[r["id"], r["cron_expression"], r["timezone"], r["status"], r["next_execution_at"]]
       for r in recurring["recurring_actions"]])
table("Retention policies", ["ID", "TENANT", "AUDIT S", "EVENTS S", "SOURCE"],
      [[p["id"], p["tenant"], p["audit_ttl_seconds"], p["event_ttl_seconds"], p["source"]]
       for p in retention["policies"]])
PY
