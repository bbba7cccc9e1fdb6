//! The sensor simulator: JSON-lines actions that look like the smart building's telemetry (the
//! seed's sensor types on floors, test devices, duplicates, critical readings, firmware and
//! lifecycle events, and malformed records), reproducible from a seed. One generator serves
//! `acteon produce`, the Kafka tests and the benchmarks.

use serde_json::json;

/// The share of each kind of action, in percent; the rest are normal temperature readings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mix {
    pub duplicates: u64,
    pub test_devices: u64,
    pub critical: u64,
    pub humidity: u64,
    pub energy: u64,
    pub lifecycle: u64,
    pub firmware: u64,
    /// Records that are not actions (not JSON, or a required field missing).
    pub malformed: u64,
}

impl Mix {
    /// Roughly the proportions of the seed's 21 sample events (which has no malformed ones).
    pub const SEED: Mix = Mix {
        duplicates: 5,
        test_devices: 5,
        critical: 10,
        humidity: 15,
        energy: 10,
        lifecycle: 5,
        firmware: 5,
        malformed: 0,
    };
}

/// What the simulated building looks like.
#[derive(Debug, Clone, Copy)]
pub struct Building {
    pub devices: u64,
    pub floors: u64,
    /// Tenants; the first is the seed's `smartbuilding-hq`.
    pub tenants: u64,
}

impl Default for Building {
    fn default() -> Self {
        Building {
            devices: 500,
            floors: 8,
            tenants: 1,
        }
    }
}

/// A small, fast, reproducible generator (SplitMix64); workloads must not depend on a
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
        self.next() % n.max(1)
    }
}

/// An endless, reproducible stream of actions as JSON lines, with their device ids (a
/// producer keys records by device, so a device's readings stay in order).
pub struct Simulator {
    rng: SplitMix,
    mix: Mix,
    building: Building,
    step_ms: u64,
    start_ms: i64,
    next: u64,
}

/// 2026-11-28T09:00:00Z, the morning of the seed's sample events.
pub const START_MS: i64 = 1_795_856_400_000;

impl Simulator {
    /// Event times start at `start_ms` and advance `step_ms` per action.
    pub fn new(mix: Mix, building: Building, start_ms: i64, step_ms: u64, seed: u64) -> Self {
        Simulator {
            rng: SplitMix(seed),
            mix,
            building,
            step_ms,
            start_ms,
            next: 0,
        }
    }

    /// The next action: (device id, JSON line).
    pub fn next_action(&mut self) -> (String, String) {
        let i = self.next;
        self.next += 1;
        let rng = &mut self.rng;
        let mix = self.mix;
        let tenant = match rng.below(self.building.tenants) {
            0 => "smartbuilding-hq".to_string(),
            t => format!("tenant-{t}"),
        };
        let created_at = format_rfc3339_ms(self.start_ms + (i * self.step_ms) as i64);
        let floor = (rng.below(self.building.floors) + 1).to_string();
        let device = rng.below(self.building.devices);
        let roll = rng.below(100);
        let mut cut = 0;
        let mut take = |share: u64| {
            cut += share;
            roll < cut
        };
        let (device_id, action_type, payload, dedup_key) = if take(mix.duplicates) {
            let key = format!("temp-sensor-{}-reading", rng.below(50));
            let id = format!("temp-sensor-{device}");
            let payload = json!({"device_id": id, "sensor_type": "temperature", "value": 25, "unit": "celsius", "floor": floor});
            (id, "sensor_reading", payload, Some(key))
        } else if take(mix.test_devices) {
            let id = format!("test-sensor-{device}");
            let payload = json!({"device_id": id, "sensor_type": "temperature", "value": 99, "floor": "0", "environment": "test"});
            (id, "sensor_reading", payload, None)
        } else if take(mix.critical) {
            let id = format!("temp-sensor-{device}");
            let payload = json!({"device_id": id, "sensor_type": "temperature", "value": 86 + rng.below(20), "unit": "celsius", "floor": floor});
            (id, "sensor_reading", payload, None)
        } else if take(mix.humidity) {
            let id = format!("humid-sensor-{device}");
            let payload = json!({"device_id": id, "sensor_type": "humidity", "value": 30 + rng.below(50), "unit": "percent", "floor": floor});
            (id, "sensor_reading", payload, None)
        } else if take(mix.energy) {
            let id = format!("energy-meter-{device}");
            let payload = json!({"device_id": id, "sensor_type": "energy", "value": 200 + rng.below(800), "unit": "kwh", "floor": floor});
            (id, "sensor_reading", payload, None)
        } else if take(mix.lifecycle) {
            let id = format!("temp-sensor-{device}");
            let payload = json!({"device_id": id, "event": "online", "firmware_version": "3.2.1", "uptime_seconds": 0});
            (id, "device_lifecycle", payload, None)
        } else if take(mix.firmware) {
            let id = format!("temp-sensor-{device}");
            let payload = json!({"device_id": id, "version": "3.3.0", "signed": rng.below(2) == 0, "size_bytes": 1_048_576});
            (id, "firmware_update", payload, None)
        } else if take(mix.malformed) {
            let id = format!("broken-sensor-{device}");
            let line = match rng.below(3) {
                0 => format!("{{\"id\":\"action-{i}\",\"payload\":{{\"device_id\":\"{id}\""),
                1 => json!({"id": format!("action-{i}"), "namespace": "iot", "tenant": tenant, "payload": {"device_id": id}}).to_string(),
                _ => format!("garbage from {id} #{i}"),
            };
            return (id, line);
        } else {
            let id = format!("temp-sensor-{device}");
            let payload = json!({"device_id": id, "sensor_type": "temperature", "value": 18 + rng.below(10), "unit": "celsius", "floor": floor});
            (id, "sensor_reading", payload, None)
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
        (device_id, action.to_string())
    }
}

/// `count` JSON lines of `tenants` tenants (500 devices on 8 floors); event times advance
/// `step_ms` per action from [`START_MS`].
pub fn actions(count: u64, mix: Mix, tenants: u64, step_ms: u64, seed: u64) -> Vec<String> {
    let building = Building {
        tenants,
        ..Building::default()
    };
    let mut simulator = Simulator::new(mix, building, START_MS, step_ms, seed);
    (0..count).map(|_| simulator.next_action().1).collect()
}

/// RFC 3339 in UTC with milliseconds, as the seed's events write `created_at`.
fn format_rfc3339_ms(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .expect("simulated times are near the present")
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_rfc3339() {
        assert_eq!(format_rfc3339_ms(START_MS), "2026-11-28T09:00:00.000Z");
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

    #[test]
    fn malformed_records_are_not_actions() {
        let mix = Mix {
            malformed: 100,
            ..Mix {
                duplicates: 0,
                test_devices: 0,
                critical: 0,
                humidity: 0,
                energy: 0,
                lifecycle: 0,
                firmware: 0,
                malformed: 0,
            }
        };
        for line in actions(30, mix, 1, 10, 1) {
            let value: Option<serde_json::Value> = serde_json::from_str(&line).ok();
            assert!(value.is_none_or(|v| v["action_type"].is_null()), "{line}");
        }
    }
}
