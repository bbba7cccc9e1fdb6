//! Seed-like workloads for benchmarks and tests: JSON lines that look like the smart building's
//! telemetry (the seed's sensor types, floors, test devices, duplicates, firmware and lifecycle
//! events), reproducible from a seed.

use serde_json::json;

/// The share of each kind of action, in percent.
#[derive(Debug, Clone, Copy)]
pub struct Mix {
    pub duplicates: u64,
    pub test_devices: u64,
    pub critical: u64,
    pub humidity: u64,
    pub energy: u64,
    pub lifecycle: u64,
    pub firmware: u64,
}

impl Mix {
    /// Roughly the proportions of the seed's 21 sample events.
    pub const SEED: Mix = Mix {
        duplicates: 5,
        test_devices: 5,
        critical: 10,
        humidity: 15,
        energy: 10,
        lifecycle: 5,
        firmware: 5,
    };
}

/// A small, fast, reproducible generator (SplitMix64); benchmarks must not depend on a
/// platform's random source.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// `count` JSON lines; event times advance `step_ms` per action from 2026-11-28T09:00:00Z,
/// spread over `tenants` tenants (the first is the seed's `smartbuilding-hq`).
pub fn actions(count: u64, mix: Mix, tenants: u64, step_ms: u64, seed: u64) -> Vec<String> {
    let mut rng = SplitMix(seed);
    let start_ms: i64 = 1_795_856_400_000; // 2026-11-28T09:00:00Z
    (0..count)
        .map(|i| {
            let tenant = match rng.below(tenants.max(1)) {
                0 => "smartbuilding-hq".to_string(),
                t => format!("tenant-{t}"),
            };
            let time_ms = start_ms + (i * step_ms) as i64;
            let created_at = format_rfc3339_ms(time_ms);
            let floor = (rng.below(8) + 1).to_string();
            let device = rng.below(500);
            let roll = rng.below(100);
            let mut cut = 0;
            let mut take = |share: u64| {
                cut += share;
                roll < cut
            };
            let (action_type, payload, dedup_key) = if take(mix.duplicates) {
                let key = format!("temp-sensor-{}-reading", rng.below(50));
                let payload = json!({"device_id": format!("temp-sensor-{device}"), "sensor_type": "temperature", "value": 25, "unit": "celsius", "floor": floor});
                ("sensor_reading", payload, Some(key))
            } else if take(mix.test_devices) {
                let payload = json!({"device_id": format!("test-sensor-{device}"), "sensor_type": "temperature", "value": 99, "floor": "0", "environment": "test"});
                ("sensor_reading", payload, None)
            } else if take(mix.critical) {
                let payload = json!({"device_id": format!("temp-sensor-{device}"), "sensor_type": "temperature", "value": 86 + rng.below(20), "unit": "celsius", "floor": floor});
                ("sensor_reading", payload, None)
            } else if take(mix.humidity) {
                let payload = json!({"device_id": format!("humid-sensor-{device}"), "sensor_type": "humidity", "value": 30 + rng.below(50), "unit": "percent", "floor": floor});
                ("sensor_reading", payload, None)
            } else if take(mix.energy) {
                let payload = json!({"device_id": format!("energy-meter-{device}"), "sensor_type": "energy", "value": 200 + rng.below(800), "unit": "kwh", "floor": floor});
                ("sensor_reading", payload, None)
            } else if take(mix.lifecycle) {
                let payload = json!({"device_id": format!("temp-sensor-{device}"), "event": "online", "firmware_version": "3.2.1", "uptime_seconds": 0});
                ("device_lifecycle", payload, None)
            } else if take(mix.firmware) {
                let payload = json!({"device_id": format!("temp-sensor-{device}"), "version": "3.3.0", "signed": rng.below(2) == 0, "size_bytes": 1_048_576});
                ("firmware_update", payload, None)
            } else {
                let payload = json!({"device_id": format!("temp-sensor-{device}"), "sensor_type": "temperature", "value": 18 + rng.below(10), "unit": "celsius", "floor": floor});
                ("sensor_reading", payload, None)
            };
            let mut action = json!({
                "id": format!("action-{i}"),
                "namespace": "iot",
                "tenant": tenant,
                "provider": "metrics-queue",
                "action_type": action_type,
                "payload": payload,
                "metadata": {"source": "simulator"},
                "created_at": created_at,
            });
            if let Some(key) = dedup_key {
                action["dedup_key"] = key.into();
            }
            action.to_string()
        })
        .collect()
}

/// RFC 3339 in UTC with milliseconds, as the seed's events write `created_at`.
fn format_rfc3339_ms(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .expect("workload times are near the present")
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_rfc3339() {
        assert_eq!(
            format_rfc3339_ms(1_795_856_400_000),
            "2026-11-28T09:00:00.000Z"
        );
        assert_eq!(format_rfc3339_ms(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(
            format_rfc3339_ms(951_782_400_123),
            "2000-02-29T00:00:00.123Z"
        );
    }

    #[test]
    fn workloads_are_reproducible_and_valid_json() {
        let a = actions(1000, Mix::SEED, 3, 10, 7);
        assert_eq!(a, actions(1000, Mix::SEED, 3, 10, 7));
        assert_ne!(a, actions(1000, Mix::SEED, 3, 10, 8));
        for line in &a {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            assert!(v["namespace"].is_string() && v["tenant"].is_string());
        }
    }
}
