//! `acteon import` of the seed's TOML+YAML (pipelines/aws-event-pipeline/reference/) against the
//! hand-written pipeline.acteon.

use acteon_dsl::import::import;
use acteon_dsl::plan::{BranchField, Comparison, Condition, PathSegment, Plan};
use acteon_dsl::{compile_file, compile_str};
use std::path::{Path, PathBuf};

fn pipeline_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../pipelines/aws-event-pipeline")
}

fn imported() -> acteon_dsl::import::Imported {
    let reference = pipeline_dir().join("reference");
    import(&reference.join("acteon.toml"), &reference.join("rules")).unwrap()
}

fn compiled(path: &Path, text: Option<&str>) -> Plan {
    let compiled = match text {
        Some(text) => compile_str(path, text),
        None => compile_file(path),
    };
    match compiled.plan.clone() {
        Some(plan) => plan.without_origins(),
        None => panic!(
            "{} does not compile:\n{}\n{}",
            path.display(),
            compiled.render_diagnostics(),
            text.unwrap_or_default()
        ),
    }
}

#[test]
fn the_imported_seed_plans_like_the_hand_written_pipeline() {
    let imported = imported();
    let script_path = pipeline_dir().join("reference/imported.acteon");
    let mut from_import = compiled(&script_path, Some(&imported.script));
    let hand_written = compiled(&pipeline_dir().join("pipeline.acteon"), None);

    // The one deliberate difference: the seed branches to the alert on `success == true`, which
    // every successful step has; the hand-written script branches on the detector's verdict.
    let chain = from_import
        .chains
        .iter_mut()
        .find(|c| c.name == "telemetry-processing")
        .unwrap();
    let step = chain
        .steps
        .iter_mut()
        .find(|s| s.name == "detect-anomaly")
        .unwrap();
    assert_eq!(step.branches.len(), 1);
    assert_eq!(step.branches[0].field, BranchField::Success);
    assert_eq!(step.branches[0].target, "publish-event");
    step.branches[0].field = BranchField::Body {
        path: vec![PathSegment::Key("anomaly".into())],
    };
    // And the seed's critical temperature, 85 everywhere, is each device's row of
    // devices.jsonl in the hand-written script, with 85 where a device has none.
    let critical = |plan: &mut Plan| -> Condition {
        let rule = plan
            .rules
            .iter_mut()
            .find(|r| r.name == "critical-temperature-alert")
            .unwrap();
        let Some(Condition::All { of }) = rule.condition.as_mut() else {
            panic!("the critical temperature is two tests");
        };
        of.pop().unwrap()
    };
    let mut hand_written = hand_written;
    let (seed, table) = (critical(&mut from_import), critical(&mut hand_written));
    assert!(
        matches!(&seed, Condition::Compare { cmp: Comparison::Gt, value, .. } if *value == 85),
        "{seed:?}"
    );
    let Condition::CompareRow {
        cmp: Comparison::Gt,
        row,
        ..
    } = &table
    else {
        panic!("{table:?}");
    };
    assert_eq!(row.to_string(), "devices[payload.device_id].max_temp ?? 85");

    assert_eq!(from_import.providers, hand_written.providers);
    assert_eq!(from_import.rules, hand_written.rules);
    assert_eq!(from_import.chains, hand_written.chains);
    assert_eq!(from_import.breakers, hand_written.breakers);
    assert_eq!(from_import.audit, hand_written.audit);
    assert_eq!(from_import.background, hand_written.background);
}

#[test]
fn the_import_names_what_it_leaves_out() {
    let unconverted = imported().unconverted;
    for expected in [
        "[server]",
        "[state]",
        "[executor]",
        "[quotas]",
        "[chains] max_concurrent_advances",
    ] {
        assert!(
            unconverted.iter().any(|u| u == expected),
            "{expected} missing from {unconverted:?}"
        );
    }
    // Everything else in the seed converts.
    assert_eq!(unconverted.len(), 5, "{unconverted:?}");
}

#[test]
fn the_imported_script_is_canonical() {
    let imported = imported();
    let path = Path::new("imported.acteon");
    let file =
        acteon_dsl::syntax::parse(acteon_dsl::source::FileId(0), path, &imported.script).unwrap();
    assert_eq!(
        acteon_dsl::fmt::format(&file, &imported.script),
        imported.script
    );
    insta::assert_snapshot!(imported.script);
}
