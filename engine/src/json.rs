//! JSON text without trees. Writing: audit records, provider call payloads and dry-run lines
//! are rendered straight into a buffer, field by field; texts the engine already holds as JSON
//! (payloads, metadata) are copied as they are. Reading: [`Text`], a string borrowed from the
//! text being read.

use crate::time::civil_from_unix_ms;
use serde::de::{Deserialize, Deserializer, Visitor};
use serde_json::{Number, Value};
use std::borrow::Cow;
use std::fmt;

/// A JSON string being read, borrowed from the input when it has no escapes (serde's own
/// `Cow<str>` always copies).
pub struct Text<'de>(pub Cow<'de, str>);

impl std::ops::Deref for Text<'_> {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl<'de> Deserialize<'de> for Text<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Text<'de>, D::Error> {
        struct TextVisitor;
        impl<'de> Visitor<'de> for TextVisitor {
            type Value = Text<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E>(self, text: &'de str) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Borrowed(text)))
            }
            fn visit_str<E>(self, text: &str) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Owned(text.to_owned())))
            }
        }
        deserializer.deserialize_str(TextVisitor)
    }
}

/// Whether a text has characters a JSON string must escape.
pub fn needs_escape(text: &str) -> bool {
    text.bytes().any(|b| b < 0x20 || b == b'"' || b == b'\\')
}

/// A JSON string: quoted, escaped as `serde_json` escapes.
pub fn string(out: &mut Vec<u8>, text: &str) {
    let bytes = text.as_bytes();
    if !needs_escape(text) {
        out.reserve(bytes.len() + 2);
        out.push(b'"');
        out.extend_from_slice(bytes);
        out.push(b'"');
        return;
    }
    // Writing to a vector cannot fail.
    let _ = serde_json::to_writer(&mut *out, text);
}

/// `"key":`.
pub fn key(out: &mut Vec<u8>, key: &str) {
    string(out, key);
    out.push(b':');
}

/// A string, or `null`.
pub fn optional(out: &mut Vec<u8>, text: Option<&str>) {
    match text {
        Some(text) => string(out, text),
        None => out.extend_from_slice(b"null"),
    }
}

pub fn value(out: &mut Vec<u8>, value: &Value) {
    match value {
        Value::String(text) => string(out, text),
        Value::Null => out.extend_from_slice(b"null"),
        value => {
            let _ = serde_json::to_writer(&mut *out, value);
        }
    }
}

pub fn number(out: &mut Vec<u8>, number: &Number) {
    out.extend_from_slice(number.to_string().as_bytes());
}

pub fn int(out: &mut Vec<u8>, n: i64) {
    out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
}

pub fn uint(out: &mut Vec<u8>, n: u64) {
    out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
}

pub fn boolean(out: &mut Vec<u8>, b: bool) {
    out.extend_from_slice(if b { b"true" } else { b"false" });
}

/// Unix milliseconds as a quoted RFC 3339 time in UTC with milliseconds
/// (`"2026-11-28T09:00:00.000Z"`), as every time in the audit is written.
pub fn timestamp(out: &mut Vec<u8>, ms: i64) {
    out.push(b'"');
    rfc3339_ms(out, ms);
    out.push(b'"');
}

/// The RFC 3339 text of Unix milliseconds, unquoted. Records written one after another mostly
/// share their day: its date is kept per thread and only the time of day is computed.
pub fn rfc3339_ms(out: &mut Vec<u8>, ms: i64) {
    thread_local! {
        /// (day since 1970, its `YYYY-MM-DD`), or a day outside four-digit years.
        static DAY: std::cell::Cell<(i64, [u8; 10])> = const { std::cell::Cell::new((i64::MIN, [0; 10])) };
    }
    let day = ms.div_euclid(86_400_000);
    let (cached, mut date) = DAY.get();
    if cached != day {
        let (year, month, day_of_month, ..) = civil_from_unix_ms(ms);
        if !(0..=9999).contains(&year) {
            // Outside four digits chrono writes a sign and the whole year; keep its form.
            out.extend_from_slice(crate::time::format_rfc3339_ms(ms).as_bytes());
            return;
        }
        date = *b"0000-00-00";
        put(&mut date[0..4], year as u32);
        put(&mut date[5..7], month);
        put(&mut date[8..10], day_of_month);
        DAY.set((day, date));
    }
    let in_day = ms.rem_euclid(86_400_000) as u32;
    let mut time = *b"T00:00:00.000Z";
    put(&mut time[1..3], in_day / 3_600_000);
    put(&mut time[4..6], in_day / 60_000 % 60);
    put(&mut time[7..9], in_day / 1000 % 60);
    put(&mut time[10..13], in_day % 1000);
    out.extend_from_slice(&date);
    out.extend_from_slice(&time);
}

/// `n` as decimal digits filling `slot`, zero-padded.
fn put(slot: &mut [u8], mut n: u32) {
    for digit in slot.iter_mut().rev() {
        *digit = b'0' + (n % 10) as u8;
        n /= 10;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::format_rfc3339_ms;

    #[test]
    fn strings_escape_as_serde_json_does() {
        for text in [
            "plain",
            "quote \" and \\ slash",
            "tab\tnew\nline\u{1}",
            "é ☃",
        ] {
            let mut out = Vec::new();
            string(&mut out, text);
            assert_eq!(
                String::from_utf8(out).unwrap(),
                serde_json::to_string(text).unwrap()
            );
        }
    }

    #[test]
    fn timestamps_are_written_as_chrono_writes_them() {
        for ms in [
            0,
            1_764_320_400_123,
            951_782_400_000, // 2000-02-29
            4_102_444_799_999,
            -1,
            -62_135_596_800_000,
            253_402_300_799_999,
        ] {
            let mut out = Vec::new();
            rfc3339_ms(&mut out, ms);
            assert_eq!(
                String::from_utf8(out).unwrap(),
                format_rfc3339_ms(ms),
                "{ms}"
            );
        }
    }
}
