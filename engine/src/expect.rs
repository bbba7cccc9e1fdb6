//! A script's `test` blocks: their actions run on the event clock with dry-run providers, and
//! the report is checked against their expectations.
//!
//! Expectations about an action are its complete record: every record about the action (its
//! own, its chain's steps and end, a group batch that names it as a member) must be matched by
//! exactly one `expect` line for it, and every line by one record. A line matches a record of
//! its outcome with the target and rule it names (an omitted target or rule matches any). So a
//! record the script did not expect fails the test as surely as a missing one. Actions no line
//! names are not checked. `expect N calls to P` counts the provider's calls.

use crate::audit::record::{AuditRecord, Detail};
use crate::run::{run, AuditOutput, Delivery, Input, RunConfig, RunReport};
use crate::time::Clock;
use acteon_dsl::plan::{Expectation, Outcome, Plan, TestCase};

/// The result of one script test.
#[derive(Debug, Clone, PartialEq)]
pub struct TestOutcome {
    pub name: String,
    pub passed: bool,
    /// One readable line per unmet expectation: what was expected, what the audit shows.
    pub failures: Vec<String>,
}

/// Runs a script's test: event clock, one worker, memory audit, dry-run providers.
pub fn run_test(plan: &Plan, test: &TestCase) -> TestOutcome {
    let config = RunConfig {
        input: Input::Lines(test.actions.iter().map(|a| a.line.clone()).collect()),
        workers: 1,
        clock: Clock::Event,
        audit: AuditOutput::Memory,
        delivery: Delivery::DryRunMemory,
        ..RunConfig::default()
    };
    let failures = match run(plan, config) {
        Ok(report) => unmet(&test.expectations, &report),
        Err(error) => vec![format!("the run failed: {error}")],
    };
    TestOutcome {
        name: test.name.clone(),
        passed: failures.is_empty(),
        failures,
    }
}

/// One expected record: its outcome, and the target and rule when the line names them.
type Wanted<'a> = (Outcome, Option<&'a str>, Option<&'a str>);

/// Every expectation the report does not meet, as a readable line each.
pub fn unmet(expectations: &[Expectation], report: &RunReport) -> Vec<String> {
    let mut failures = Vec::new();
    // Per action, in the order the script first names it.
    let mut actions: Vec<(&str, Vec<Wanted<'_>>)> = Vec::new();
    for expectation in expectations {
        match expectation {
            Expectation::Outcome {
                action_id,
                outcome,
                target,
                rule,
            } => {
                let wanted = (*outcome, target.as_deref(), rule.as_deref());
                match actions.iter_mut().find(|(id, _)| id == action_id) {
                    Some((_, list)) => list.push(wanted),
                    None => actions.push((action_id, vec![wanted])),
                }
            }
            Expectation::Calls { provider, count } => {
                let made = report
                    .calls
                    .iter()
                    .filter(|c| *c.provider == **provider)
                    .count() as u64;
                if made != *count {
                    failures.push(format!(
                        "{provider}: expected {count} calls; {made} were made"
                    ));
                }
            }
        }
    }
    for (action_id, wanted) in actions {
        let records: Vec<&AuditRecord> = report
            .audit
            .iter()
            .filter(|r| names(r, action_id))
            .collect();
        if records.len() != wanted.len() || !every_record_matched(&wanted, &records) {
            let expected: Vec<String> = wanted
                .iter()
                .map(|&(outcome, target, rule)| describe(outcome, target, rule))
                .collect();
            let shown: Vec<String> = records
                .iter()
                .map(|r| describe(r.outcome, r.target.as_deref(), r.rule.as_deref()))
                .collect();
            failures.push(format!(
                "\"{action_id}\": expected [{}]; the audit shows [{}]",
                expected.join(", "),
                shown.join(", ")
            ));
        }
    }
    failures
}

fn matches(wanted: &Wanted<'_>, record: &AuditRecord) -> bool {
    let (outcome, target, rule) = *wanted;
    record.outcome == outcome
        && target.is_none_or(|t| record.target.as_deref() == Some(t))
        && rule.is_none_or(|n| record.rule.as_deref() == Some(n))
}

/// Whether the lines and the records (as many of each) pair up, each line with a record it
/// matches: a bipartite matching by augmenting paths (lines that omit a target or rule may
/// match several records, so a greedy pairing could fail where a matching exists).
fn every_record_matched(wanted: &[Wanted<'_>], records: &[&AuditRecord]) -> bool {
    fn augment(
        line: usize,
        wanted: &[Wanted<'_>],
        records: &[&AuditRecord],
        taken_by: &mut [Option<usize>],
        seen: &mut [bool],
    ) -> bool {
        for (r, record) in records.iter().enumerate() {
            if seen[r] || !matches(&wanted[line], record) {
                continue;
            }
            seen[r] = true;
            let free = match taken_by[r] {
                None => true,
                Some(other) => augment(other, wanted, records, taken_by, seen),
            };
            if free {
                taken_by[r] = Some(line);
                return true;
            }
        }
        false
    }
    let mut taken_by = vec![None; records.len()];
    (0..wanted.len()).all(|line| {
        let mut seen = vec![false; records.len()];
        augment(line, wanted, records, &mut taken_by, &mut seen)
    })
}

fn describe(outcome: Outcome, target: Option<&str>, rule: Option<&str>) -> String {
    let mut text = outcome.name().to_owned();
    if let Some(target) = target {
        text.push_str(&format!(" to {target}"));
    }
    if let Some(rule) = rule {
        text.push_str(&format!(" rule {rule}"));
    }
    text
}

/// Whether the record is about the action: its own, or a batch naming it as a member.
fn names(record: &AuditRecord, action_id: &str) -> bool {
    &*record.action_id == action_id
        || matches!(record.details.get("members"), Some(Detail::Ids(ids)) if ids.iter().any(|m| &**m == action_id))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::record::{Details, RecordId};
    use crate::name::Name;
    use crate::providers::breaker::ProviderHealth;
    use crate::report::Views;
    use std::time::Duration;

    fn record(
        action: &str,
        outcome: Outcome,
        target: Option<&str>,
        rule: Option<&str>,
    ) -> AuditRecord {
        AuditRecord {
            id: RecordId::new(action.into(), crate::action::Position::Line(1), 0),
            action_id: action.into(),
            namespace: "n".into(),
            tenant: "t".into(),
            action_type: "a".into(),
            provider: None,
            target: target.map(Name::from),
            rule: rule.map(Name::from),
            outcome,
            details: Details::new(),
            payload: None,
            chain_id: None,
            dispatched_at_ms: 0,
            completed_at_ms: 0,
            duration_ms: 0,
            expires_at_ms: None,
        }
    }

    fn report(audit: Vec<AuditRecord>) -> RunReport {
        RunReport {
            inputs: 0,
            records: audit.len() as u64,
            audit,
            calls: Vec::new(),
            views: Views::new(),
            health: ProviderHealth::default(),
            elapsed: Duration::ZERO,
        }
    }

    fn expect(
        action: &str,
        outcome: Outcome,
        target: Option<&str>,
        rule: Option<&str>,
    ) -> Expectation {
        Expectation::Outcome {
            action_id: action.into(),
            outcome,
            target: target.map(str::to_owned),
            rule: rule.map(str::to_owned),
        }
    }

    #[test]
    fn an_action_must_have_exactly_the_records_expected() {
        let audit = report(vec![
            record("a", Outcome::ChainStarted, None, Some("start")),
            record("a", Outcome::ChainStepCompleted, Some("p"), None),
            record("b", Outcome::Executed, Some("q"), None),
        ]);
        let started = expect("a", Outcome::ChainStarted, None, None);
        let step = expect("a", Outcome::ChainStepCompleted, Some("p"), None);
        assert!(unmet(&[started.clone(), step.clone()], &audit).is_empty());
        // A record nobody expected fails, as does one that is not there.
        assert_eq!(unmet(std::slice::from_ref(&started), &audit).len(), 1);
        let extra = expect("a", Outcome::ChainCompleted, None, None);
        assert_eq!(
            unmet(&[started.clone(), step.clone(), extra], &audit).len(),
            1
        );
        // A contradictory detail fails.
        let wrong = expect("a", Outcome::ChainStepCompleted, Some("other"), None);
        assert_eq!(unmet(&[started, wrong], &audit).len(), 1);
        // Actions no line names are not checked.
        assert!(unmet(
            &[
                step,
                expect("a", Outcome::ChainStarted, None, Some("start"))
            ],
            &audit
        )
        .is_empty());
    }

    #[test]
    fn lines_pair_with_records_even_when_a_wildcard_could_take_the_wrong_one() {
        let audit = report(vec![
            record("a", Outcome::Executed, Some("x"), None),
            record("a", Outcome::Executed, Some("y"), None),
        ]);
        // Taken greedily, the open line would take `x` and leave `to x` nothing.
        let lines = [
            expect("a", Outcome::Executed, None, None),
            expect("a", Outcome::Executed, Some("x"), None),
        ];
        assert!(unmet(&lines, &audit).is_empty());
    }
}
