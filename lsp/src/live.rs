//! How often each rule fired, from a running `acteon serve` (`--server http://HOST:PORT`): its
//! `GET /metrics` counts audit records by outcome, rule and provider
//! (`acteon_actions_total{outcome,rule,provider}`). A plain HTTP/1.1 request over a socket is
//! all it takes, with every wait bounded, so hover never hangs on a server that went away.

use crate::Error;
use std::collections::{BTreeMap, HashMap};
use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

/// For connecting, and for the whole answer.
const TIMEOUT: Duration = Duration::from_secs(1);
/// Hovering over several rules in a row reads the metrics once.
const FRESH_FOR: Duration = Duration::from_secs(2);
const MAX_ANSWER_BYTES: u64 = 16 << 20;

/// A rule's audit records since the server started.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RuleCounts {
    pub total: u64,
    pub by_outcome: BTreeMap<String, u64>,
}

pub struct Live {
    /// `host:port`.
    authority: String,
    /// A path the server is mounted under, without the trailing slash.
    prefix: String,
    api_key: Option<String>,
    cache: Option<(Instant, HashMap<String, RuleCounts>)>,
}

impl Live {
    pub fn new(url: &str, api_key: Option<String>) -> Result<Live, Error> {
        let rest = url
            .strip_prefix("http://")
            .ok_or_else(|| Error::ServerUrl(url.to_string(), "only http:// is supported"))?;
        let (authority, prefix) = match rest.find('/') {
            Some(at) => (&rest[..at], rest[at..].trim_end_matches('/')),
            None => (rest, ""),
        };
        if authority.is_empty() {
            return Err(Error::ServerUrl(url.to_string(), "no host"));
        }
        let authority = if authority.contains(':') {
            authority.to_string()
        } else {
            format!("{authority}:80")
        };
        Ok(Live {
            authority,
            prefix: prefix.to_string(),
            api_key,
            cache: None,
        })
    }

    /// The counts of `rule`; `Ok(None)` when the server has audited nothing for it yet.
    pub fn rule(&mut self, rule: &str) -> Result<Option<RuleCounts>, Error> {
        let fresh = self
            .cache
            .as_ref()
            .is_some_and(|(at, _)| at.elapsed() < FRESH_FOR);
        if !fresh {
            let text = self.get("/metrics")?;
            self.cache = Some((Instant::now(), parse_metrics(&text)));
        }
        let (_, counts) = self.cache.as_ref().expect("just filled");
        Ok(counts.get(rule).cloned())
    }

    fn get(&self, path: &str) -> Result<String, Error> {
        let failed = |e: std::io::Error| Error::Server(self.authority.clone(), e.to_string());
        let address = self
            .authority
            .to_socket_addrs()
            .map_err(failed)?
            .next()
            .ok_or_else(|| Error::Server(self.authority.clone(), "no address".into()))?;
        let mut stream = TcpStream::connect_timeout(&address, TIMEOUT).map_err(failed)?;
        let deadline = Instant::now() + TIMEOUT;
        let mut request = format!(
            "GET {}{path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n",
            self.prefix, self.authority
        );
        if let Some(key) = &self.api_key {
            request.push_str(&format!("Authorization: Bearer {key}\r\n"));
        }
        request.push_str("\r\n");
        stream.write_all(request.as_bytes()).map_err(failed)?;
        let mut answer = Vec::new();
        let mut buffer = [0u8; 16 * 1024];
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() || answer.len() as u64 > MAX_ANSWER_BYTES {
                return Err(Error::Server(
                    self.authority.clone(),
                    "no complete answer in time".into(),
                ));
            }
            stream.set_read_timeout(Some(left)).map_err(failed)?;
            match stream.read(&mut buffer).map_err(failed)? {
                0 => break,
                n => answer.extend_from_slice(&buffer[..n]),
            }
        }
        let answer = String::from_utf8_lossy(&answer);
        let (head, body) = answer
            .split_once("\r\n\r\n")
            .ok_or_else(|| Error::Server(self.authority.clone(), "not an HTTP answer".into()))?;
        let status = head.lines().next().unwrap_or_default();
        if status.split_whitespace().nth(1) != Some("200") {
            return Err(Error::Server(
                self.authority.clone(),
                format!("{path} answered `{status}`"),
            ));
        }
        let chunked = head.lines().any(|l| {
            let l = l.to_ascii_lowercase();
            l.starts_with("transfer-encoding:") && l.contains("chunked")
        });
        Ok(if chunked {
            dechunk(body)
        } else {
            body.to_string()
        })
    }
}

/// A `Transfer-Encoding: chunked` body, joined.
fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let Ok(size) = usize::from_str_radix(size.split(';').next().unwrap_or("").trim(), 16)
        else {
            break;
        };
        if size == 0 || rest.len() < size {
            break;
        }
        out.push_str(&rest[..size]);
        body = rest[size..].trim_start_matches("\r\n");
    }
    out
}

/// `acteon_actions_total{outcome="o",rule="r",provider="p"} N` lines, summed by rule.
pub fn parse_metrics(text: &str) -> HashMap<String, RuleCounts> {
    let mut counts: HashMap<String, RuleCounts> = HashMap::new();
    for line in text.lines() {
        let Some(rest) = line.strip_prefix("acteon_actions_total{") else {
            continue;
        };
        let Some((labels, value)) = rest.rsplit_once('}') else {
            continue;
        };
        let Ok(value) = value.trim().parse::<f64>() else {
            continue;
        };
        let label = |name: &str| -> Option<String> {
            let start = labels.find(&format!("{name}=\""))? + name.len() + 2;
            let mut out = String::new();
            let mut chars = labels[start..].chars();
            while let Some(c) = chars.next() {
                match c {
                    '"' => return Some(out),
                    '\\' => match chars.next()? {
                        'n' => out.push('\n'),
                        other => out.push(other),
                    },
                    c => out.push(c),
                }
            }
            None
        };
        let (Some(rule), Some(outcome)) = (label("rule"), label("outcome")) else {
            continue;
        };
        if rule.is_empty() {
            continue;
        }
        let entry = counts.entry(rule).or_default();
        entry.total += value as u64;
        *entry.by_outcome.entry(outcome).or_default() += value as u64;
    }
    counts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_are_summed_by_rule() {
        let text = "# HELP acteon_actions_total ...\n\
            acteon_actions_total{outcome=\"rerouted\",rule=\"hot\",provider=\"a\"} 4\n\
            acteon_actions_total{outcome=\"executed\",rule=\"hot\",provider=\"b\"} 1\n\
            acteon_actions_total{outcome=\"executed\",rule=\"\",provider=\"b\"} 9\n\
            acteon_chains_finished_total{outcome=\"chain_completed\"} 2\n";
        let counts = parse_metrics(text);
        assert_eq!(counts.len(), 1);
        assert_eq!(counts["hot"].total, 5);
        assert_eq!(counts["hot"].by_outcome["rerouted"], 4);
    }

    #[test]
    fn chunked_bodies_are_joined() {
        assert_eq!(dechunk("4\r\nabcd\r\n2\r\nef\r\n0\r\n\r\n"), "abcdef");
    }

    #[test]
    fn urls_name_a_host_and_port() {
        let live = Live::new("http://127.0.0.1:8080/", None).unwrap();
        assert_eq!(live.authority, "127.0.0.1:8080");
        assert_eq!(live.prefix, "");
        assert!(Live::new("https://x", None).is_err());
    }
}
