//! The grammar on tricky syntax, its error messages, and its robustness on hostile input.

use acteon_dsl::diagnostic::{Code, Diagnostic};
use acteon_dsl::source::FileId;
use acteon_dsl::syntax::ast::*;
use acteon_dsl::syntax::{parse, MAX_NESTING};
use std::path::Path;

fn parse_ok(text: &str) -> File {
    match parse(FileId(0), Path::new("t.acteon"), text) {
        Ok(file) => file,
        Err(d) => panic!("{text}\n{d:?}"),
    }
}

fn parse_err(text: &str) -> Diagnostic {
    let d = parse(FileId(0), Path::new("t.acteon"), text).expect_err(text);
    assert_eq!(d.code, Code::Syntax, "{d:?}");
    d
}

fn only_rule(text: &str) -> RuleDecl {
    match parse_ok(text).items.into_iter().next() {
        Some(Item::Rule(rule)) => rule,
        other => panic!("{other:?}"),
    }
}

fn condition(expr: &str) -> Expr {
    only_rule(&format!("rule r priority 1 when {expr} then allow"))
        .condition
        .unwrap()
}

#[test]
fn keywords_do_not_break_names() {
    let file = parse_ok(
        "provider log log\n\
         provider allow-x aws-sqs { queue_url = \"q\" }\n\
         rule allow-remaining priority 20 then allow\n\
         rule rule priority 1 then reroute log\n\
         rule then-when priority -3 when provider == log then chain chain-1\n",
    );
    assert_eq!(file.items.len(), 5);
    let Item::Provider(log) = &file.items[0] else {
        panic!()
    };
    assert_eq!(
        (log.name.text.as_str(), log.kind.text.as_str()),
        ("log", "log")
    );
    let Item::Rule(allow) = &file.items[2] else {
        panic!()
    };
    assert_eq!(allow.name.text, "allow-remaining");
    assert_eq!(allow.action.kind, ActionKind::Allow);
    let Item::Rule(r) = &file.items[4] else {
        panic!()
    };
    assert_eq!(r.priority.value, -3);
    assert!(matches!(&r.action.kind, ActionKind::Chain(c) if c.text == "chain-1"));
    let Some(Expr::Test(test)) = &r.condition else {
        panic!()
    };
    assert!(
        matches!(&test.op, TestOp::Compare(CompareOp::Eq, Comparand::Literal(Literal { kind: LiteralKind::Name(n), .. })) if n == "log")
    );
}

#[test]
fn paths_take_keys_quoted_keys_and_indexes() {
    let Expr::Test(test) = condition(r#"payload.items.0."odd key".a-b exists"#) else {
        panic!()
    };
    let Operand::Field(field) = &test.field else {
        panic!()
    };
    let kinds: Vec<_> = field.segments.iter().map(|s| s.kind.clone()).collect();
    assert_eq!(
        kinds,
        [
            PathSegmentKind::Key("items".into()),
            PathSegmentKind::Index(0),
            PathSegmentKind::QuotedKey("odd key".into()),
            PathSegmentKind::Key("a-b".into()),
        ]
    );
    assert_eq!(field.root.text, "payload");
    assert_eq!(test.op, TestOp::Exists);
}

#[test]
fn regexes_unescape_only_the_slash() {
    let Expr::Test(test) = condition(r"payload.p matches /^a\/b\d+\\/") else {
        panic!()
    };
    let TestOp::Matches(regex) = test.op else {
        panic!()
    };
    assert_eq!(regex.pattern, r"^a/b\d+\\");
}

#[test]
fn or_binds_loosest_then_and_then_not() {
    let expr = condition("a exists or not b exists and (c == 1 or d == 2)");
    let Expr::Or(operands, _) = &expr else {
        panic!("{expr:?}")
    };
    assert_eq!(operands.len(), 2);
    let Expr::And(conjuncts, _) = &operands[1] else {
        panic!()
    };
    assert!(matches!(conjuncts[0], Expr::Not(..)));
    let Expr::Paren(inner, span) = &conjuncts[1] else {
        panic!()
    };
    assert!(matches!(**inner, Expr::Or(..)));
    assert_eq!(span.end - span.start, "(c == 1 or d == 2)".len());
}

#[test]
fn all_tests_parse() {
    for (text, check) in [
        (
            "x in [\"a\", 1]",
            (|op: &TestOp| matches!(op, TestOp::In(Literal { kind: LiteralKind::List(l), .. }) if l.len() == 2))
                as fn(&TestOp) -> bool,
        ),
        ("x contains \"c\"", |op| matches!(op, TestOp::Contains(_))),
        ("x starts_with \"s\"", |op| {
            matches!(op, TestOp::StartsWith(_))
        }),
        ("x ends_with \"e\"", |op| matches!(op, TestOp::EndsWith(_))),
        ("x != null", |op| {
            matches!(op, TestOp::Compare(CompareOp::Ne, _))
        }),
        ("x <= 0.5", |op| {
            matches!(op, TestOp::Compare(CompareOp::Le, _))
        }),
        ("x >= 1e3", |op| {
            matches!(op, TestOp::Compare(CompareOp::Ge, _))
        }),
        ("x < -3", |op| {
            matches!(op, TestOp::Compare(CompareOp::Lt, _))
        }),
        ("x > 5m", |op| {
            matches!(
                op,
                TestOp::Compare(
                    CompareOp::Gt,
                    Comparand::Literal(Literal {
                        kind: LiteralKind::Duration { ms: 300_000, .. },
                        ..
                    })
                )
            )
        }),
    ] {
        let Expr::Test(test) = condition(text) else {
            panic!("{text}")
        };
        assert!(check(&test.op), "{text}: {:?}", test.op);
    }
}

#[test]
fn durations_have_units_and_no_space() {
    for (text, ms) in [
        ("500ms", 500),
        ("60s", 60_000),
        ("5m", 300_000),
        ("1h", 3_600_000),
        ("7d", 604_800_000),
        ("0s", 0),
    ] {
        let rule = only_rule(&format!("rule r priority 1 then schedule after {text}"));
        let ActionKind::Schedule { after } = rule.action.kind else {
            panic!()
        };
        assert_eq!((after.ms, after.text.as_str()), (ms, text));
    }
    parse_err("rule r priority 1 then schedule after 5 s");
    parse_err("rule r priority 1 then schedule after 5min");
    let d = parse_err("rule r priority 1 then schedule after 99999999999999999999d");
    assert!(d.message.contains("out of range"), "{d:?}");
}

#[test]
fn integers_that_overflow_are_diagnostics() {
    let d = parse_err("rule r priority 99999999999999999999 then allow");
    assert!(d.message.contains("out of range"), "{d:?}");
    let d = parse_err("rule r priority 1 when payload.a == 1e999 then allow");
    assert!(d.message.contains("out of range"), "{d:?}");
    parse_err("rule r priority 1 when payload.99999999999999999999999 exists then allow");
}

#[test]
fn every_action_parses() {
    let actions = [
        "suppress",
        "deny",
        "allow",
        "reroute p",
        "chain c",
        "modify { \"a\": { \"b\": [1, null, true] } }",
        "dedup within 60s by payload.k",
        "throttle 30 per 1m by tenant",
        "group by payload.a, payload.b wait 30s max 10 to q",
        "schedule after 1h",
    ];
    for action in actions {
        only_rule(&format!("rule r priority 1 then {action}"));
    }
    let rule =
        only_rule("rule r priority 1 then group by payload.a, payload.b wait 30s max 10 to q");
    let ActionKind::Group { by, wait, max, to } = rule.action.kind else {
        panic!()
    };
    assert_eq!(
        (
            by.len(),
            wait.ms,
            max.unwrap().value,
            to.unwrap().text.as_str()
        ),
        (2, 30_000, 10, "q")
    );
}

#[test]
fn attributes_comments_and_spans() {
    let text = "# head\n@allow(unreachable)\nrule r priority 1 # tail\n  then deny\n";
    let file = parse_ok(text);
    assert_eq!(file.comments.len(), 2);
    assert_eq!(file.comments[0].text, "# head");
    assert_eq!(&text[file.comments[1].span.clone()], "# tail");
    let Item::Rule(rule) = &file.items[0] else {
        panic!()
    };
    assert_eq!(rule.attributes[0].name.text, "allow");
    assert_eq!(rule.attributes[0].args[0].text, "unreachable");
    assert_eq!(&text[rule.name.span.clone()], "r");
    assert_eq!(&text[rule.action.span.clone()], "deny");
}

#[test]
fn items_of_every_kind_parse() {
    let text = r#"
scope tenant "t"
include "other.acteon"
source file "in.jsonl"
source stdin
source kafka { brokers = ["b:9092"] start = earliest properties = { "security.protocol": "SSL" } }
provider p aws-s3 { bucket = "b" object_prefix = "x/" }
chain c timeout 10s {
  step one call p put { "k": "{{origin.id}}" }
    if success == false then two
    if body.a.b contains "x" then two
    if body exists then two
    next two
    on_failure dlq
    retry 3 backoff 500ms
  step two run other
}
breakers { enabled = false failure_threshold = 3 }
breaker p { fallback = q }
quota "t" 500 per 1h warn
retention "t" { audit = 7d events = 2d state = 1d }
recurring beat { cron = "*/5 * * * *" payload = { "e": 1 } }
audit { sink = memory }
background { group_flush = false max_recurring_per_tenant = 10 }
test "t" {
  action at "2026-11-28T09:00:00Z" { "id": "t1" }
  action { "id": "t2" }
  input "more.jsonl"
  expect "t1" rerouted to p rule r
  expect "t2" denied
  expect 1 call to p
  expect 2 calls to p
}
"#;
    let file = parse_ok(text);
    assert_eq!(file.items.len(), 15);
    let Item::Chain(chain) = &file.items[6] else {
        panic!()
    };
    let one = &chain.steps[0];
    assert_eq!(one.branches.len(), 3);
    assert_eq!(one.branches[2].op, BranchOpDecl::Exists);
    assert_eq!(one.next.as_ref().unwrap().text, "two");
    assert_eq!(one.on_failure.as_ref().unwrap().mode, OnFailureMode::Dlq);
    assert_eq!(
        one.retry.as_ref().unwrap().backoff.as_ref().unwrap().ms,
        500
    );
    let Item::Breakers(block) = &file.items[7] else {
        panic!()
    };
    assert!(text[block.span.clone()].starts_with("breakers"));
    let Item::Test(test) = &file.items[14] else {
        panic!()
    };
    assert_eq!(test.entries.len(), 7);
    assert!(matches!(&test.entries[6], TestEntry::ExpectCalls { count, .. } if count.value == 2));
}

#[test]
fn errors_name_what_was_expected() {
    let d = parse_err("rule r priority 1 then frobnicate");
    assert_eq!(d.message, "unexpected `frobnicate`");
    assert!(d.hint.as_deref().unwrap().contains("an action"), "{d:?}");
    assert_eq!(d.span, 23..33);

    let d = parse_err("rule r priority 1 when payload.a == 1");
    assert_eq!(d.message, "unexpected end of file");
    assert!(d.hint.as_deref().unwrap().contains("`then`"), "{d:?}");

    let d = parse_err("rule r priority 1 then dedup within soon");
    assert!(
        d.hint
            .as_deref()
            .unwrap()
            .contains("a duration such as `60s`"),
        "{d:?}"
    );

    let d = parse_err("provider p aws-sns { region \"x\" }");
    assert_eq!(d.hint.as_deref(), Some("expected `=`"));

    let d = parse_err("rule r priority 1 when (a exists then allow");
    assert_eq!(d.hint.as_deref(), Some("expected `or`, `and` or `)`"));

    let d = parse_err("frobnicate");
    assert!(d.hint.as_deref().unwrap().contains("an item"), "{d:?}");
}

#[test]
fn deep_nesting_is_refused_before_parsing() {
    let ok = format!(
        "rule r priority 1 when {}a exists{} then allow",
        "(".repeat(MAX_NESTING),
        ")".repeat(MAX_NESTING)
    );
    parse_ok(&ok);
    let deep = format!(
        "rule r priority 1 when {}a exists{} then allow",
        "(".repeat(100_000),
        ")".repeat(100_000)
    );
    let d = parse_err(&deep);
    assert!(d.message.contains("nesting"), "{d:?}");
    let deep_json = format!(
        "rule r priority 1 then modify {{ \"a\": {}1{} }}",
        "[".repeat(10_000),
        "]".repeat(10_000)
    );
    parse_err(&deep_json);
    let nots = format!(
        "rule r priority 1 when {}a exists then allow",
        "not ".repeat(100_000)
    );
    let d = parse_err(&nots);
    assert!(d.message.contains("nested"), "{d:?}");
    // Brackets inside strings, comments and regexes do not count.
    let quoted = format!(
        "rule r priority 1 when a == \"{}\" then allow # {}",
        "(".repeat(100),
        "[".repeat(100)
    );
    parse_ok(&quoted);
}

#[test]
fn invalid_escapes_are_diagnostics() {
    parse_err(r#"include "\ud800""#);
    parse_err(r#"include "\q""#);
}

mod arbitrary_input {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
            let text = String::from_utf8_lossy(&bytes);
            let _ = parse(FileId(0), Path::new("t.acteon"), &text);
        }

        #[test]
        fn token_soup_never_panics(tokens in proptest::collection::vec(prop::sample::select(vec![
            "rule", "r", "priority", "1", "when", "then", "allow", "(", ")", "[", "]", "{", "}",
            "\"s\"", "payload.a", "==", "and", "or", "not", "exists", "in", "/x/", "60s", ",",
            "chain", "step", "call", "if", "test", "expect", "#", "\n", "@allow", "=", ":",
        ]), 0..60)) {
            let text = tokens.join(" ");
            let _ = parse(FileId(0), Path::new("t.acteon"), &text);
        }
    }
}

#[test]
fn tables_and_rows_values_parse() {
    let text = r#"
table devices key device_id from "devices.jsonl"
table registry key device_id from kafka { brokers = ["b:9092"] topic = "device-registry" }
rule hot priority 1
  when devices[payload.device_id].zone == "east"
    and payload.value > devices[payload.device_id].max_temp ?? 85
    and devices[payload."odd key"].tags.0 exists
  then modify { "zone": devices[payload.device_id].zone ?? "none", "n": [1, registry[id]] }
chain c {
  step s call p put { "owner": devices[payload.device_id].owner ?? { "team": "x" } }
}
"#;
    let file = parse_ok(text);
    let Item::Table(devices) = &file.items[0] else {
        panic!()
    };
    assert_eq!(
        (devices.name.text.as_str(), devices.key.text.as_str()),
        ("devices", "device_id")
    );
    assert!(
        matches!(&devices.source, TableSourceDecl::File(path) if path.value == "devices.jsonl")
    );
    let Item::Table(registry) = &file.items[1] else {
        panic!()
    };
    assert!(matches!(&registry.source, TableSourceDecl::Kafka(block) if block.settings.len() == 2));
    let Item::Rule(rule) = &file.items[2] else {
        panic!()
    };
    let Some(Expr::And(tests, _)) = &rule.condition else {
        panic!()
    };
    let Expr::Test(zone) = &tests[0] else {
        panic!()
    };
    let Operand::Row(zone) = &zone.field else {
        panic!()
    };
    assert_eq!(zone.row.table.text, "devices");
    assert_eq!(
        &text[zone.row.span.clone()],
        "devices[payload.device_id].zone"
    );
    assert!(zone.default.is_none());
    let Expr::Test(hot) = &tests[1] else { panic!() };
    let TestOp::Compare(CompareOp::Gt, Comparand::Row(max)) = &hot.op else {
        panic!()
    };
    assert!(matches!(
        max.default,
        Some(Literal {
            kind: LiteralKind::Number(_),
            ..
        })
    ));
    let ActionKind::Modify(patch) = &rule.action.kind else {
        panic!()
    };
    assert_eq!(
        patch.value,
        serde_json::json!({ "zone": null, "n": [1, null] })
    );
    let at: Vec<_> = patch.rows.iter().map(|r| r.at.clone()).collect();
    assert_eq!(
        at,
        [
            vec![PathSegmentKind::Key("zone".into())],
            vec![PathSegmentKind::Key("n".into()), PathSegmentKind::Index(1)],
        ]
    );
    // No spaces inside a row reference, as inside a path.
    parse_err("rule r priority 1 when devices [payload.device_id].zone exists then deny");
    parse_err("rule r priority 1 when devices[payload.device_id]. zone exists then deny");
}
