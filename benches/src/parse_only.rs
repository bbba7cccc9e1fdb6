//! The data plane's limit: reading each line into a typed struct with `serde_json`, nothing
//! else. The envelope's fields are borrowed strings; the payload and the metadata are JSON
//! values, as any reader that keeps them must build something for them. A run's rate is
//! reported as a share of this rate, measured on the same lines in the same suite run.

use serde::Deserialize;
use serde_json::Value;

/// One action line, as a plain typed reader sees it.
#[derive(Deserialize)]
pub struct Line<'a> {
    #[serde(borrow)]
    pub id: Option<&'a str>,
    pub namespace: &'a str,
    pub tenant: &'a str,
    pub action_type: &'a str,
    #[serde(borrow)]
    pub provider: Option<&'a str>,
    #[serde(default)]
    pub payload: Value,
    #[serde(default)]
    pub metadata: Value,
    #[serde(borrow)]
    pub dedup_key: Option<&'a str>,
    #[serde(borrow)]
    pub created_at: Option<&'a str>,
}

/// Parses every line once; the number that parsed.
pub fn parse_all(lines: &[String]) -> usize {
    lines
        .iter()
        .filter(|line| serde_json::from_slice::<Line>(line.as_bytes()).is_ok())
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn simulator_lines_parse() {
        let lines =
            acteon_kafka::simulator::actions(100, acteon_kafka::simulator::Mix::SEED, 1, 10, 1);
        assert_eq!(parse_all(&lines), 100);
    }
}
