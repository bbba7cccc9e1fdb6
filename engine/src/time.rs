//! Time: event times in Unix milliseconds, coarse timely epochs, and their text form.
//!
//! Timely timestamps are epochs (milliseconds rounded down to the epoch length), never per
//! event; an action's exact event time travels with it as data.

use chrono::{DateTime, SecondsFormat, Utc};
use std::time::{SystemTime, UNIX_EPOCH};

/// Which clock decides an action's time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Clock {
    /// `created_at` decides: a replay of the same input gives the same outcomes every run.
    #[default]
    Event,
    /// The wall clock at ingest decides; held actions are released as the wall clock moves.
    Processing,
}

/// Rounds event times down to epochs of a fixed length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Epochs {
    epoch_ms: u64,
}

impl Epochs {
    /// An epoch length of zero is taken as one millisecond.
    pub fn new(epoch_ms: u64) -> Epochs {
        Epochs {
            epoch_ms: epoch_ms.max(1),
        }
    }

    pub fn length_ms(self) -> u64 {
        self.epoch_ms
    }

    /// The epoch holding `ms`; times before 1970 fall in epoch 0.
    pub fn of(self, ms: i64) -> u64 {
        let ms = ms.max(0) as u64;
        ms - ms % self.epoch_ms
    }
}

/// The wall clock in Unix milliseconds.
pub fn wall_clock_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// The wall clock in Unix microseconds (chain statuses time steps far shorter than a ms).
pub fn wall_clock_us() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or(0)
}

/// RFC 3339 text in Unix milliseconds, `None` when it is not RFC 3339.
pub fn parse_rfc3339_ms(text: &str) -> Option<i64> {
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.timestamp_millis())
}

/// Unix milliseconds as RFC 3339 in UTC with milliseconds, as audit records show times.
pub fn format_rfc3339_ms(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Millis, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epochs_round_down() {
        let epochs = Epochs::new(100);
        assert_eq!(epochs.of(1_234), 1_200);
        assert_eq!(epochs.of(-5), 0);
        assert_eq!(Epochs::new(0).of(7), 7);
    }

    #[test]
    fn rfc3339_round_trips() {
        let ms = parse_rfc3339_ms("2026-11-28T09:00:00Z").unwrap();
        assert_eq!(format_rfc3339_ms(ms), "2026-11-28T09:00:00.000Z");
        assert!(parse_rfc3339_ms("yesterday").is_none());
    }
}
