//! The editor grammars against the one grammar of the language: every keyword of
//! `grammar/acteon.pest` is coloured as a keyword by the VS Code extension's TextMate grammar
//! (and by the Neovim syntax file), no other word is, and a name that merely starts with a
//! keyword (`allow-remaining`) is not. A keyword added to the pest grammar fails here until the
//! editors know it.

use fancy_regex::Regex;
use serde_json::Value;
use std::collections::BTreeSet;

const PEST: &str = include_str!("../../grammar/acteon.pest");
const TEXTMATE: &str = include_str!("../../editors/vscode/syntaxes/acteon.tmLanguage.json");
const VIM: &str = include_str!("../../editors/nvim/syntax/acteon.vim");

/// `kw_then = @{ "then" ~ boundary }` gives `then`.
fn pest_keywords() -> BTreeSet<String> {
    PEST.lines()
        .filter(|l| l.trim_start().starts_with("kw_"))
        .map(|l| l.split('"').nth(1).expect("a keyword literal").to_string())
        .collect()
}

/// A `match` pattern of the TextMate grammar, with the scope of the whole match and of each
/// capture.
struct Pattern {
    regex: Regex,
    name: Option<String>,
    captures: Vec<(usize, String)>,
}

/// The top-level patterns in the order TextMate tries them, includes resolved. `begin`/`end`
/// patterns (strings) are taken by their `begin`.
fn patterns(grammar: &Value) -> Vec<Pattern> {
    fn walk(grammar: &Value, list: &Value, out: &mut Vec<Pattern>) {
        for pattern in list.as_array().expect("a pattern list") {
            if let Some(include) = pattern["include"].as_str() {
                let key = include.trim_start_matches('#');
                walk(
                    grammar,
                    &Value::Array(vec![grammar["repository"][key].clone()]),
                    out,
                );
                continue;
            }
            if pattern["patterns"].is_array()
                && pattern["match"].is_null()
                && pattern["begin"].is_null()
            {
                walk(grammar, &pattern["patterns"], out);
                continue;
            }
            let source = pattern["match"]
                .as_str()
                .or_else(|| pattern["begin"].as_str())
                .expect("a match or a begin");
            let captures = pattern["captures"]
                .as_object()
                .map(|c| {
                    c.iter()
                        .map(|(i, v)| (i.parse().unwrap(), v["name"].as_str().unwrap().to_string()))
                        .collect()
                })
                .unwrap_or_default();
            out.push(Pattern {
                regex: Regex::new(source).unwrap_or_else(|e| panic!("`{source}`: {e}")),
                name: pattern["name"].as_str().map(str::to_string),
                captures,
            });
        }
    }
    let mut out = Vec::new();
    walk(grammar, &grammar["patterns"], &mut out);
    out
}

/// The scope TextMate gives the text starting at offset 0 of `line`, and how far it reaches:
/// the pattern whose match starts first wins, the earlier pattern on a tie.
fn scope_at_start(patterns: &[Pattern], line: &str) -> Option<(String, usize)> {
    let mut best: Option<(usize, &Pattern)> = None;
    for pattern in patterns {
        if let Ok(Some(found)) = pattern.regex.find(line) {
            if best.is_none_or(|(start, _)| found.start() < start) {
                best = Some((found.start(), pattern));
            }
        }
    }
    let (start, pattern) = best?;
    if start != 0 {
        return None;
    }
    let captures = pattern.regex.captures(line).ok()??;
    for (index, name) in &pattern.captures {
        if let Some(group) = captures.get(*index) {
            if group.start() == 0 {
                return Some((name.clone(), group.end()));
            }
        }
    }
    let whole = captures.get(0)?;
    pattern.name.clone().map(|name| (name, whole.end()))
}

#[test]
fn the_textmate_grammar_colours_every_keyword_of_the_pest_grammar() {
    let grammar: Value = serde_json::from_str(TEXTMATE).expect("the grammar is JSON");
    assert_eq!(grammar["scopeName"], "source.acteon");
    let patterns = patterns(&grammar);
    let keywords = pest_keywords();
    assert!(keywords.len() > 60, "{keywords:?}");
    for keyword in &keywords {
        // Alone, and as the start of a line of a script.
        for line in [keyword.clone(), format!("{keyword} x")] {
            let (scope, end) = scope_at_start(&patterns, &line)
                .unwrap_or_else(|| panic!("`{line}` is not coloured"));
            assert!(scope.starts_with("keyword."), "`{line}`: {scope}");
            assert_eq!(end, keyword.len(), "`{line}`: the keyword, whole");
        }
        // A name that begins with a keyword is a name.
        let name = format!("{keyword}-remaining");
        if let Some((scope, end)) = scope_at_start(&patterns, &name) {
            assert!(
                !(scope.starts_with("keyword.") && end == keyword.len()),
                "`{name}` is coloured as the keyword `{keyword}`"
            );
        }
    }
}

#[test]
fn the_textmate_keyword_lists_hold_exactly_the_pest_keywords() {
    let grammar: Value = serde_json::from_str(TEXTMATE).unwrap();
    let alternation = Regex::new(r"\(\?:([a-z_|]+)\)").unwrap();
    let mut listed = BTreeSet::new();
    for pattern in grammar["repository"]["keyword"]["patterns"]
        .as_array()
        .unwrap()
    {
        let source = pattern["match"].as_str().unwrap();
        let words = alternation
            .captures(source)
            .unwrap()
            .expect("an alternation");
        listed.extend(words[1].split('|').map(str::to_string));
    }
    assert_eq!(listed, pest_keywords());
}

#[test]
fn the_vim_syntax_lists_exactly_the_pest_keywords() {
    let keyword_groups = [
        "acteonDeclaration",
        "acteonKeyword",
        "acteonOperatorWord",
        "acteonVerdict",
    ];
    let mut listed = BTreeSet::new();
    for line in VIM.lines() {
        if let Some(rest) = line.strip_prefix("syntax keyword ") {
            let mut words = rest.split_whitespace();
            if keyword_groups.contains(&words.next().unwrap()) {
                listed.extend(words.map(str::to_string));
            }
        }
        // A keyword that is also an argument of :syntax keyword is a match: `"\<word\>"`.
        if let Some(rest) = line.strip_prefix("syntax match ") {
            let (group, pattern) = rest.split_once(' ').unwrap();
            let word = pattern
                .trim_matches('"')
                .strip_prefix("\\<")
                .and_then(|w| w.strip_suffix("\\>"));
            if let (true, Some(word)) = (keyword_groups.contains(&group), word) {
                listed.insert(word.to_string());
            }
        }
    }
    assert_eq!(listed, pest_keywords());
}

#[test]
fn the_seed_pipeline_is_coloured_without_a_regex_error() {
    let grammar: Value = serde_json::from_str(TEXTMATE).unwrap();
    let patterns = patterns(&grammar);
    let routing = include_str!("../../pipelines/aws-event-pipeline/routing.acteon");
    let first = routing.lines().next().unwrap();
    assert_eq!(
        scope_at_start(&patterns, first).map(|(s, _)| s),
        Some("comment.line.number-sign.acteon".to_string())
    );
    let rule = routing.lines().find(|l| l.starts_with("rule ")).unwrap();
    assert_eq!(
        scope_at_start(&patterns, rule),
        Some(("keyword.control.declaration.acteon".to_string(), 4))
    );
    let setting = "  brokers = [\"127.0.0.1:9092\"]";
    assert_eq!(
        scope_at_start(&patterns, setting.trim_start()).map(|(s, _)| s),
        Some("variable.other.property.acteon".to_string())
    );
}
