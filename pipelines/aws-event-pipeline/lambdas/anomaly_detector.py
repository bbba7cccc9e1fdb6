"""anomaly-detector: flags a sensor reading outside its normal range.

Answers API-gateway style, {statusCode, body}, with body a JSON string carrying `anomaly`;
Acteon's Lambda provider hands the parsed body to chain branches (`if body.anomaly == true`).
"""

import json

# sensor_type -> (low, high): a value below low or above high is an anomaly; None = no bound.
LIMITS = {
    "temperature": (None, 85.0),
    "humidity": (20.0, 80.0),
    "energy": (None, 1000.0),
}


def handler(event, context):
    sensor_type = event.get("sensor_type")
    try:
        value = float(event.get("value"))
    except (TypeError, ValueError):
        value = None
    low, high = LIMITS.get(sensor_type, (None, None))
    anomaly = value is not None and (
        (low is not None and value < low) or (high is not None and value > high)
    )
    body = {
        "anomaly": anomaly,
        "device_id": event.get("device_id"),
        "sensor_type": sensor_type,
        "value": value,
    }
    return {"statusCode": 200, "body": json.dumps(body)}
