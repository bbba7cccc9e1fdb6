//! `acteon import` on the constructs the seed does not use: every operator, nested groups,
//! providers of every type, and what cannot be converted.

use acteon_dsl::compile_str;
use acteon_dsl::import::{import, ImportError, Imported};
use std::path::Path;

fn run(toml: &str, rules: &[(&str, &str)]) -> Result<Imported, ImportError> {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("acteon.toml");
    std::fs::write(&config, toml).unwrap();
    let rules_dir = dir.path().join("rules");
    std::fs::create_dir(&rules_dir).unwrap();
    for (name, text) in rules {
        std::fs::write(rules_dir.join(name), text).unwrap();
    }
    import(&config, &rules_dir)
}

fn assert_compiles(imported: &Imported) {
    let compiled = compile_str(Path::new("imported.acteon"), &imported.script);
    assert!(
        !compiled.has_errors(),
        "{}\n{}",
        compiled.render_diagnostics(),
        imported.script
    );
}

const PROVIDERS: &str = r#"
[[providers]]
name = "archive"
type = "aws-s3"
aws_region = "eu-west-1"
aws_role_arn = "arn:aws:iam::1:role/r"
aws_external_id = "ext"
aws_session_name = "s"
bucket_name = "b"
object_prefix = "raw/"

[[providers]]
name = "mail"
type = "email"
backend = "ses"
from_address = "a@example.com"
ses_configuration_set = "cs"

[[providers]]
name = "fn"
type = "aws-lambda"
function_name = "f"
qualifier = "live"

[[providers]]
name = "hook"
type = "webhook"
url = "http://127.0.0.1:9/"
"#;

const RULES: &str = r#"
rules:
  - name: every-operator
    priority: 3
    description: Exercises each operator.
    condition:
      all:
        - field: action.payload.value
          gte: 10
          lte: 20
        - field: action.payload.zone
          starts_with: "server"
        - field: action.metadata.source
          ends_with: "-gateway"
        - field: action.payload.tags
          contains: "critical"
        - field: action.payload.device_id
          matches: "^temp/\\d+$"
        - field: action.payload.kind
          in_list: ["a", "b"]
        - field: action.payload.ok
          ne: null
        - any:
            - field: action.payload.a
              eq: 1
            - field: action.payload.b
              lt: 2
    action:
      type: reroute
      target_provider: fn
  - name: no-priority
    condition:
      field: action.payload.gone
      eq: null
    action:
      type: group
      group_by: [payload.floor, metadata.site]
      max_group_size: 5
  - name: semantic
    priority: 1
    condition:
      semantic_match: "billing"
    action:
      type: deny
  - name: machine
    priority: 2
    condition:
      field: action.tenant
      eq: "t"
    action:
      type: state_machine
      state_machine: alerts
"#;

#[test]
fn operators_groups_and_providers_convert() {
    let imported = run(PROVIDERS, &[("a.yaml", RULES)]).unwrap();
    assert_compiles(&imported);
    let script = &imported.script;
    for expected in [
        "provider archive aws-s3 {\n  region = \"eu-west-1\"\n  role_arn = \"arn:aws:iam::1:role/r\"\n  \
         external_id = \"ext\"\n  session_name = \"s\"\n  bucket = \"b\"\n  object_prefix = \"raw/\"\n}",
        "provider mail email {\n  backend = ses\n  from_address = \"a@example.com\"\n  configuration_set = \"cs\"\n}",
        "qualifier = \"live\"",
        "# Exercises each operator.\nrule every-operator priority 3\n",
        "payload.value >= 10",
        "and payload.value <= 20",
        "payload.device_id matches /^temp\\/\\d+$/",
        "payload.kind in [\"a\", \"b\"]",
        "payload.ok exists",
        "(payload.a == 1 or payload.b < 2)",
        "rule no-priority priority 0\n  when not payload.gone exists\n  then group by payload.floor, metadata.site wait 30s max 5",
        // Not every rule tests the tenant, so there is no scope.
        "breakers {\n  enabled = false\n}",
    ] {
        assert!(script.contains(expected), "missing {expected:?} in\n{script}");
    }
    assert!(!script.contains("scope"), "{script}");
    for expected in [
        "provider hook (type webhook)",
        "rule semantic condition: semantic_match",
        "rule machine action state_machine",
    ] {
        assert!(
            imported.unconverted.iter().any(|u| u == expected),
            "{expected} not in {:?}",
            imported.unconverted
        );
    }
}

#[test]
fn a_shared_tenant_test_becomes_the_scope() {
    let rules = r#"
rules:
  - name: a
    condition: { field: action.tenant, eq: "acme" }
    action: { type: allow }
  - name: b
    condition:
      all:
        - { field: action.namespace, eq: "ns" }
        - { field: action.tenant, eq: "acme" }
        - { field: action.action_type, eq: "x" }
    action: { type: throttle, max_count: 5, window_seconds: 3600 }
"#;
    let imported = run("", &[("r.yml", rules)]).unwrap();
    assert_compiles(&imported);
    assert!(
        imported.script.contains("scope tenant \"acme\"\n"),
        "{}",
        imported.script
    );
    assert!(imported
        .script
        .contains("when namespace == \"ns\" and action_type == \"x\"\n  then throttle 5 per 1h"));
}

#[test]
fn broken_input_is_an_error_naming_the_file() {
    let err = run("[[providers]]\nname = 1\n", &[]).unwrap_err();
    assert!(err.to_string().contains("acteon.toml"), "{err}");
    let err = run("", &[("bad.yaml", "rules: [\n")]).unwrap_err();
    assert!(matches!(err, ImportError::Yaml { .. }), "{err}");
    let err = run("not toml = = 1", &[]).unwrap_err();
    assert!(matches!(err, ImportError::Toml { .. }), "{err}");
}
