"""telemetry-normalizer: stamps a reading with the normalization time and schema version.

Returns the reading itself (not API-gateway style), with `logged: true` so the processing
chain's `if body.logged == true` goes on to anomaly detection.
"""

from datetime import datetime, timezone

SCHEMA_VERSION = "1.0"


def handler(event, context):
    reading = dict(event)
    reading["normalized_at"] = datetime.now(timezone.utc).isoformat(timespec="milliseconds")
    reading["schema_version"] = SCHEMA_VERSION
    reading["logged"] = True
    return reading
