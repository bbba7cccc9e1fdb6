//! No input makes the front end panic: arbitrary bytes, mutations of the seed pipeline's
//! scripts, and deep nesting all come back as a result (usually holding errors).

use acteon_dsl::compile_str;
use proptest::prelude::*;
use std::path::PathBuf;

fn seed_scripts() -> Vec<(PathBuf, String)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../pipelines/aws-event-pipeline");
    let mut scripts: Vec<(PathBuf, String)> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "acteon"))
        .map(|p| {
            let text = std::fs::read_to_string(&p).unwrap();
            (p, text)
        })
        .collect();
    scripts.sort();
    scripts
}

/// Tokens that tend to reach the corners of a grammar: openers without closers, template
/// braces, regex slashes, comments, numbers and durations, keywords out of place.
const TOKENS: &[&str] = &[
    "{",
    "}",
    "(",
    ")",
    "[",
    "]",
    "\"",
    "/",
    "{{",
    "}}",
    "#",
    "\\",
    "0",
    "-1",
    "99999999999999999999",
    "0s",
    "1e400",
    "=",
    "==",
    ".",
    ",",
    "@",
    "rule",
    "priority",
    "when",
    "then",
    "chain",
    "step",
    "next",
    "if",
    "provider",
    "include",
    "scope",
    "test",
    "expect",
    "and",
    "or",
    "not",
    "exists",
    "matches",
    "\n",
    " ",
    "é",
    "\u{0}",
];

#[derive(Debug, Clone)]
enum Mutation {
    Delete(usize, usize),
    Insert(usize, &'static str),
    Duplicate(usize, usize, usize),
    Swap(usize, usize, usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), 0..40usize).prop_map(|(at, len)| Mutation::Delete(at, len)),
        (any::<usize>(), proptest::sample::select(TOKENS))
            .prop_map(|(at, t)| Mutation::Insert(at, t)),
        (any::<usize>(), 0..60usize, any::<usize>())
            .prop_map(|(a, l, b)| Mutation::Duplicate(a, l, b)),
        (any::<usize>(), 0..30usize, any::<usize>()).prop_map(|(a, l, b)| Mutation::Swap(a, l, b)),
    ]
}

/// Applies a mutation at char positions (taken modulo the text's length), so the result is
/// always valid UTF-8.
fn apply(text: &str, mutation: &Mutation) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    let n = chars.len().max(1);
    let range = |at: usize, len: usize| {
        let start = at % n;
        start.min(chars.len())..(start + len).min(chars.len())
    };
    match *mutation {
        Mutation::Delete(at, len) => {
            let r = range(at, len);
            chars.drain(r);
        }
        Mutation::Insert(at, token) => {
            let at = (at % n).min(chars.len());
            chars.splice(at..at, token.chars());
        }
        Mutation::Duplicate(at, len, to) => {
            let copy: Vec<char> = chars[range(at, len)].to_vec();
            let to = (to % n).min(chars.len());
            chars.splice(to..to, copy);
        }
        Mutation::Swap(a, len, b) => {
            let first = range(a, len);
            let second = range(b, len);
            if first.end <= second.start || second.end <= first.start {
                let (x, y) = if first.start < second.start {
                    (first, second)
                } else {
                    (second, first)
                };
                let left: Vec<char> = chars[x.clone()].to_vec();
                let right: Vec<char> = chars[y.clone()].to_vec();
                chars.splice(y, left);
                chars.splice(x, right);
            }
        }
    }
    chars.into_iter().collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        let text = String::from_utf8_lossy(&bytes).to_string();
        let _ = compile_str("fuzz.acteon", &text);
    }

    #[test]
    fn mutated_seed_scripts(
        which in any::<usize>(),
        mutations in proptest::collection::vec(mutation(), 1..6),
    ) {
        let scripts = seed_scripts();
        let (path, text) = &scripts[which % scripts.len()];
        let mutated = mutations.iter().fold(text.clone(), |t, m| apply(&t, m));
        let _ = compile_str(path, &mutated);
    }
}

#[test]
fn deep_nesting() {
    let depth = 10_000;
    let open = "(".repeat(depth);
    let close = ")".repeat(depth);
    for text in [
        format!("rule deep priority 1 when {open}payload.x exists{close} then suppress"),
        format!("rule deep priority 1 when {open}"),
        format!(
            "rule deep priority 1 when {}payload.x exists then allow",
            "not ".repeat(depth)
        ),
        format!(
            "provider p log\nchain c {{ step s call p invoke {} }}",
            "[".repeat(depth)
        ),
        format!("rule r priority 1 then modify {}", "{\"a\":".repeat(depth)),
        "{".repeat(depth),
    ] {
        let _ = compile_str("deep.acteon", &text);
    }
}
