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

/// RFC 3339 text in Unix milliseconds, `None` when it is not RFC 3339. The common form
/// (`2026-11-28T09:00:00.123Z`, or with an offset) is read by hand, since every action's time
/// is; anything else is left to chrono, which decides what the form allows.
pub fn parse_rfc3339_ms(text: &str) -> Option<i64> {
    parse_common_rfc3339_ms(text.as_bytes()).or_else(|| {
        DateTime::parse_from_rfc3339(text)
            .ok()
            .map(|t| t.timestamp_millis())
    })
}

/// `YYYY-MM-DDTHH:MM:SS[.digits](Z|+HH:MM|-HH:MM)` with every field in range, else `None`.
fn parse_common_rfc3339_ms(b: &[u8]) -> Option<i64> {
    let number = |range: std::ops::Range<usize>| -> Option<i64> {
        let digits = b.get(range)?;
        digits.iter().try_fold(0i64, |n, d| {
            d.is_ascii_digit().then(|| n * 10 + i64::from(d - b'0'))
        })
    };
    let at = |i: usize, c: u8| b.get(i) == Some(&c);
    if !(at(4, b'-') && at(7, b'-') && at(10, b'T') && at(13, b':') && at(16, b':')) {
        return None;
    }
    let (year, month, day) = (number(0..4)?, number(5..7)?, number(8..10)?);
    let (hour, minute, second) = (number(11..13)?, number(14..16)?, number(17..19)?);
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let days_in_month = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return None,
    };
    if day < 1 || day > days_in_month || hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    let mut i = 19;
    let mut millis = 0;
    if at(i, b'.') {
        i += 1;
        let start = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            if i - start < 3 {
                millis = millis * 10 + i64::from(b[i] - b'0');
            }
            i += 1;
        }
        if i == start {
            return None;
        }
        for _ in (i - start)..3 {
            millis *= 10;
        }
    }
    let offset_minutes = match b.get(i)? {
        b'Z' if b.len() == i + 1 => 0,
        sign @ (b'+' | b'-') if b.len() == i + 6 && at(i + 3, b':') => {
            let (h, m) = (number(i + 1..i + 3)?, number(i + 4..i + 6)?);
            if h > 23 || m > 59 {
                return None;
            }
            let minutes = h * 60 + m;
            if *sign == b'-' {
                -minutes
            } else {
                minutes
            }
        }
        _ => return None,
    };
    let days = days_from_civil(year, month, day);
    let seconds = days * 86_400 + hour * 3600 + minute * 60 + second - offset_minutes * 60;
    Some(seconds * 1000 + millis)
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_index = (month + 9) % 12;
    let day_of_year = (153 * month_index + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// Unix milliseconds as RFC 3339 in UTC with milliseconds, as audit records show times.
pub fn format_rfc3339_ms(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Unix milliseconds as (year, month, day, hour, minute, second, millisecond) in UTC, by the
/// days-from-civil arithmetic (no calendar lookups: the audit writes several times per record).
pub fn civil_from_unix_ms(ms: i64) -> (i64, u32, u32, u32, u32, u32, u32) {
    let days = ms.div_euclid(86_400_000);
    let in_day = ms.rem_euclid(86_400_000);
    let (hour, rest) = (in_day / 3_600_000, in_day % 3_600_000);
    let (minute, rest) = (rest / 60_000, rest % 60_000);
    let (second, milli) = (rest / 1000, rest % 1000);
    // Days since 0000-03-01, in 400-year eras of 146,097 days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let mp = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (
        year,
        month,
        day,
        hour as u32,
        minute as u32,
        second as u32,
        milli as u32,
    )
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
    fn the_common_form_reads_as_chrono_reads_it() {
        let chrono_ms = |text: &str| {
            DateTime::parse_from_rfc3339(text)
                .ok()
                .map(|t| t.timestamp_millis())
        };
        for text in [
            "2026-11-28T09:00:00Z",
            "2026-11-28T09:00:00.123Z",
            "2026-11-28T09:00:00.1Z",
            "2026-11-28T09:00:00.123456789Z",
            "2000-02-29T23:59:59.999+05:30",
            "1969-12-31T23:59:59.999-01:00",
            "1900-02-29T00:00:00Z",
            "2026-13-01T00:00:00Z",
            "2026-11-31T00:00:00Z",
            "2026-11-28T24:00:00Z",
            "2026-11-28T09:00:60Z",
            "2026-11-28t09:00:00z",
            "2026-11-28 09:00:00Z",
            "2026-11-28T09:00:00.Z",
            "2026-11-28T09:00:00",
            "2026-11-28T09:00:00+0100",
            "0000-01-01T00:00:00Z",
        ] {
            assert_eq!(parse_rfc3339_ms(text), chrono_ms(text), "{text}");
        }
    }

    #[test]
    fn rfc3339_round_trips() {
        let ms = parse_rfc3339_ms("2026-11-28T09:00:00Z").unwrap();
        assert_eq!(format_rfc3339_ms(ms), "2026-11-28T09:00:00.000Z");
        assert!(parse_rfc3339_ms("yesterday").is_none());
    }
}
