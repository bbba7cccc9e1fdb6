//! Five-field cron expressions: minute, hour, day of month, month, day of week. Each field is
//! a comma list of `*`, `N`, `A-B`, each optionally `/STEP`; months and days may be named
//! (`JAN`, `MON`, any case) and day of week 7 is Sunday, like 0.

use std::ops::Range;

/// Why an expression is not a valid cron, and where in it.
#[derive(Debug, PartialEq)]
pub(super) struct CronError {
    /// Byte range in the expression.
    pub at: Range<usize>,
    pub reason: String,
}

struct Field {
    name: &'static str,
    min: u32,
    max: u32,
    names: &'static [&'static str],
}

const MONTHS: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];
const DAYS: [&str; 7] = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

const FIELDS: [Field; 5] = [
    Field {
        name: "minute",
        min: 0,
        max: 59,
        names: &[],
    },
    Field {
        name: "hour",
        min: 0,
        max: 23,
        names: &[],
    },
    Field {
        name: "day of month",
        min: 1,
        max: 31,
        names: &[],
    },
    Field {
        name: "month",
        min: 1,
        max: 12,
        names: &MONTHS,
    },
    Field {
        name: "day of week",
        min: 0,
        max: 7,
        names: &DAYS,
    },
];

pub(super) fn validate(expr: &str) -> Result<(), CronError> {
    let parts: Vec<(usize, &str)> = expr
        .split_whitespace()
        .map(|p| (p.as_ptr() as usize - expr.as_ptr() as usize, p))
        .collect();
    if parts.len() != 5 {
        return Err(CronError {
            at: 0..expr.len(),
            reason: format!(
                "a cron expression has 5 fields (minute hour day-of-month month day-of-week), this has {}",
                parts.len()
            ),
        });
    }
    for ((offset, text), field) in parts.into_iter().zip(&FIELDS) {
        let mut start = offset;
        for item in text.split(',') {
            field_item(item, field).map_err(|reason| CronError {
                at: start..start + item.len(),
                reason: format!("{} field: {reason}", field.name),
            })?;
            start += item.len() + 1;
        }
    }
    Ok(())
}

/// `*`, `N`, `A-B`, optionally followed by `/STEP`.
fn field_item(item: &str, field: &Field) -> Result<(), String> {
    let (base, step) = match item.split_once('/') {
        Some((base, step)) => (base, Some(step)),
        None => (item, None),
    };
    if let Some(step) = step {
        match step.parse::<u32>() {
            Ok(n) if n >= 1 => {}
            _ => {
                return Err(format!(
                    "step `{step}` must be a whole number of at least 1"
                ))
            }
        }
    }
    if base == "*" {
        return Ok(());
    }
    match base.split_once('-') {
        Some((low, high)) => {
            let (low, high) = (value(low, field)?, value(high, field)?);
            if low > high {
                return Err(format!("range `{base}` runs backwards"));
            }
            Ok(())
        }
        None => value(base, field).map(|_| ()),
    }
}

fn value(text: &str, field: &Field) -> Result<u32, String> {
    if let Some(i) = field
        .names
        .iter()
        .position(|n| n.eq_ignore_ascii_case(text))
    {
        // Named months count from 1, named days from 0 (Sunday).
        return Ok(i as u32 + field.min);
    }
    match text.parse::<u32>() {
        Ok(n) if (field.min..=field.max).contains(&n) => Ok(n),
        Ok(n) => Err(format!("{n} is outside {}-{}", field.min, field.max)),
        Err(_) if text.is_empty() => Err("a value is missing".to_string()),
        Err(_) => Err(format!("`{text}` is not a number{}", named(field))),
    }
}

fn named(field: &Field) -> String {
    match field.names.first() {
        Some(first) => format!(" or a name like `{}`", first.to_uppercase()),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::validate;

    #[test]
    fn accepts_common_expressions() {
        for ok in [
            "*/5 * * * *",
            "0 9 * * MON-FRI",
            "15,45 0-6/2 1 jan,Jul 7",
            "0 0 31 12 0",
            "5/10 * * * *",
        ] {
            assert_eq!(validate(ok), Ok(()), "{ok}");
        }
    }

    #[test]
    fn points_at_the_bad_part() {
        let error = validate("0 24 * * *").unwrap_err();
        assert_eq!(error.at, 2..4);
        assert_eq!(error.reason, "hour field: 24 is outside 0-23");
        assert_eq!(validate("*/0 * * * *").unwrap_err().at, 0..3);
        assert_eq!(validate("1,2,99 * * * *").unwrap_err().at, 4..6);
        assert_eq!(validate("* * 5-1 * *").unwrap_err().at, 4..7);
        assert!(validate("* * * *").is_err());
        assert!(validate("* * * FOO *").is_err());
        assert!(validate("* * 0 * *").is_err());
        assert!(validate("*,,* * * * *").is_err());
    }
}
