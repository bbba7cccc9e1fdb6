//! The canonical layout on scripts written every which way, and comments in odd places.

use acteon_dsl::compile_str;
use acteon_dsl::fmt::format;
use acteon_dsl::source::FileId;
use acteon_dsl::syntax::parse;
use proptest::prelude::*;
use std::path::Path;

fn fmt(text: &str) -> String {
    let path = Path::new("test.acteon");
    let file = parse(FileId(0), path, text).unwrap_or_else(|d| panic!("{}\n{text}", d.message));
    format(&file, text)
}

fn comments(text: &str) -> Vec<String> {
    let file = parse(FileId(0), Path::new("test.acteon"), text).unwrap();
    file.comments
        .iter()
        .map(|c| c.text.trim_end().to_string())
        .collect()
}

/// Formatting is a fixed point, keeps every comment in order, and keeps the plan.
fn assert_sound(text: &str) -> String {
    let once = fmt(text);
    assert_eq!(fmt(&once), once, "not idempotent; first pass:\n{once}");
    assert_eq!(comments(text), comments(&once), "comments changed:\n{once}");
    let path = Path::new("test.acteon");
    let before = compile_str(path, text);
    if let Some(plan) = before.plan {
        let compiled = compile_str(path, &once);
        let Some(after) = compiled.plan.clone() else {
            panic!("{}", compiled.render_diagnostics());
        };
        assert_eq!(comparable(plan), comparable(after));
    }
    once
}

const MESSY: &str = r#"scope tenant "acme" provider q aws-sqs{queue_url="http://127.0.0.1:4566/0/q" region="us-east-1"} provider log-out log
rule a priority 1 when payload.kind=="x" and(payload.level>=3 or not payload.ok exists)then reroute q rule b priority 2 then modify {"tag":"b","n":[1,2],"deep":{"k":true}}
@allow(unreachable) rule c priority 3 when tenant in ["a","b"] and payload.device_id matches /^temp-\d+\/x$/ then group by payload.floor,payload.zone wait 30s max 10 to log-out
chain ch timeout 60s{step one call q send_message {"a":"{{origin.payload.x}}"} if body.ok==true then two next two on_failure skip retry 3 backoff 500ms step two run sub} chain sub{step s call log-out log {}}
breakers{failure_threshold=3 success_threshold=1 recovery_timeout=30s} breaker q{fallback=log-out}
quota "acme" 500 per 1h warn retention "acme"{audit=7d events=2d}
background{group_flush_interval=10s group_flush=true}
test "t"{action at "2026-01-01T00:00:00Z" {"id":"t1","namespace":"n","tenant":"acme","action_type":"x","provider":"q","payload":{"kind":"x","level":4}} expect "t1" rerouted to q rule a expect 1 call to q}"#;

#[test]
fn a_messy_script_formats_to_the_canonical_text() {
    insta::assert_snapshot!(assert_sound(MESSY));
}

#[test]
fn tables_and_rows_values_format() {
    let text = r#"table devices key device_id from kafka{brokers=["127.0.0.1:9092"] topic="device-registry"}
rule hot priority 1 when payload.value>devices[payload.device_id].max_temp??85 and devices[payload."odd key"].zone=="east" then modify {"zone":devices[payload.device_id].zone??"none","n":[1,devices[id]]}
chain c{step s call q send {"owner":devices[payload.device_id].owner,"text":"{{origin.id}}"}}"#;
    assert_eq!(
        assert_sound(text),
        r#"table devices key device_id from kafka {
  brokers = ["127.0.0.1:9092"]
  topic = "device-registry"
}

rule hot priority 1
  when payload.value > devices[payload.device_id].max_temp ?? 85
     and devices[payload."odd key"].zone == "east"
  then modify {
    "zone": devices[payload.device_id].zone ?? "none",
    "n": [1, devices[id]]
  }

chain c {
  step s call q send { "owner": devices[payload.device_id].owner, "text": "{{origin.id}}" }
}
"#
    );
}

const COMMENTED: &str = r#"# head of the file

# a second paragraph
scope namespace "iot" # after the scope
include "x.acteon" # after an include
provider p aws-sns { # after the brace
  # before a setting
  topic_arn = "arn" # after a setting
  region = # between key and value
    "us-east-1"
  # before the closing brace
} # after the closing brace
@allow(unreachable) # after an attribute
# between attribute and rule
rule # inside the header
  r priority 1
  # before when
  when payload.a == 1 # after the first operand
    and (payload.b == 2 # inside parentheses
      or payload.c == 3)
  # before then
  then modify { "a": 1, # inside JSON
    "b": 2 }
chain c {
  step one call p publish { "m": "x" }
    # before a branch
    if success == true then two # after a branch
    next two
  # before the second step
  step two run c2
  # before the chain's closing brace
}
test "t" {
  # first entry
  expect 1 call to p

  # after a blank line
  expect "x" executed
}
# at the end
"#;

#[test]
fn comments_in_odd_places_survive() {
    let formatted = assert_sound(COMMENTED);
    insta::assert_snapshot!(formatted);
}

#[test]
fn a_long_condition_breaks_before_its_top_level_operators() {
    let text = "rule r priority 1 when payload.sensor_type == \"temperature\" and payload.value > 85 and \
                (payload.zone starts_with \"server\" or payload.zone == \"lab\") and metadata.source ends_with \"-gateway\" then deny";
    let formatted = assert_sound(text);
    assert_eq!(
        formatted,
        "rule r priority 1\n  when payload.sensor_type == \"temperature\"\n     and payload.value > 85\n     \
         and (payload.zone starts_with \"server\" or payload.zone == \"lab\")\n     \
         and metadata.source ends_with \"-gateway\"\n  then deny\n"
    );
}

#[test]
fn blank_lines_are_kept_once_where_written() {
    let text = "# a\n\n\n\n# b\nrule r priority 1 then deny\n\n\n\n\n# c\n\n\n";
    assert_eq!(
        assert_sound(text),
        "# a\n\n# b\nrule r priority 1\n  then deny\n\n# c\n"
    );
}

// ---------------------------------------------------------------------------------------------
// Generated scripts: the pieces of the seed pipeline, joined by random whitespace, with comments
// at random token boundaries.

const PIECES: &[&[&str]] = &[
    &["scope", "namespace", "\"iot\"", "tenant", "\"hq\""],
    &[
        "provider",
        "q",
        "aws-sqs",
        "{",
        "queue_url",
        "=",
        "\"u\"",
        "}",
    ],
    &["provider", "l", "log"],
    &[
        "rule",
        "a",
        "priority",
        "1",
        "when",
        "payload.x",
        "==",
        "1",
        "and",
        "(",
        "payload.y",
        "<",
        "2",
        "or",
        "not",
        "payload.z",
        "exists",
        ")",
        "then",
        "reroute",
        "q",
    ],
    &[
        "@allow(unreachable)",
        "rule",
        "b",
        "priority",
        "2",
        "then",
        "modify",
        "{",
        "\"k\"",
        ":",
        "[",
        "1",
        ",",
        "2",
        "]",
        "}",
    ],
    &[
        "rule",
        "c",
        "priority",
        "0",
        "when",
        "action_type",
        "in",
        "[",
        "\"a\"",
        ",",
        "\"b\"",
        "]",
        "then",
        "dedup",
        "within",
        "60s",
        "by",
        "payload.id",
    ],
    &[
        "chain",
        "ch",
        "timeout",
        "5m",
        "{",
        "step",
        "s1",
        "call",
        "q",
        "send",
        "{",
        "\"v\"",
        ":",
        "\"{{origin.id}}\"",
        "}",
        "if",
        "body.ok",
        "==",
        "true",
        "then",
        "s2",
        "retry",
        "2",
        "step",
        "s2",
        "call",
        "l",
        "log",
        "{",
        "}",
        "}",
    ],
    &[
        "breakers",
        "{",
        "failure_threshold",
        "=",
        "3",
        "recovery_timeout",
        "=",
        "30s",
        "}",
    ],
    &[
        "background",
        "{",
        "cleanup_interval",
        "=",
        "60s",
        "group_flush",
        "=",
        "false",
        "}",
    ],
    &[
        "test",
        "\"t\"",
        "{",
        "input",
        "\"x.jsonl\"",
        "expect",
        "\"a\"",
        "denied",
        "rule",
        "a",
        "expect",
        "2",
        "calls",
        "to",
        "q",
        "}",
    ],
];

fn script() -> impl Strategy<Value = String> {
    let tokens: Vec<&str> = PIECES.iter().flat_map(|p| p.iter().copied()).collect();
    let count = tokens.len();
    // Per token boundary: 0 a space, 1 a newline, 2 a blank line, 3 a comment.
    proptest::collection::vec(0u8..4, count).prop_map(move |separators| {
        let mut out = String::new();
        for (i, (token, separator)) in tokens.iter().zip(separators).enumerate() {
            out.push_str(token);
            out.push_str(match separator {
                0 => " ",
                1 => "\n",
                2 => "\n\n",
                _ => "",
            });
            if separator == 3 {
                out.push_str(&format!(" # comment {i}\n"));
            }
        }
        out
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn generated_scripts_format_soundly(text in script()) {
        assert_sound(&text);
    }
}

/// A plan without source positions: `without_origins` keeps the tests' lines, which formatting
/// is free to move.
fn comparable(plan: acteon_dsl::plan::Plan) -> acteon_dsl::plan::Plan {
    let mut plan = plan.without_origins();
    for test in &mut plan.tests {
        test.line = 0;
    }
    plan
}
