//! Completion from the text before the cursor: a script being typed rarely parses, so the
//! context is read from the words before the cursor and the braces around it, and the names
//! come from the last analysis of the script.
//!
//! - `payload.` / `metadata.` (and `{{origin.payload.` in a step's payload): fields of the
//!   sample actions.
//! - after `reroute`, `to`, `call`, `breaker`, `fallback =`, `provider =`: providers; after
//!   `then chain` and `run`: chains; after `next` and a branch's `then`: the chain's steps;
//!   after `expect ... rule`: rules; after `provider NAME`: provider types.
//! - inside a settings block, at the start of a line: the keys that block takes (per provider
//!   type), those not given yet; after `key =`, the words that key takes.
//! - after `when`, `and`, `or`, `not`, `by`: field roots; after a rule's `then`: actions.
//! - anywhere else: the keywords of `grammar/acteon.pest` and the declared names.

use crate::index::Kind;
use crate::samples::Fields;
use crate::workspace::Analysis;
use acteon_dsl::check::schema::{self, Block};
use acteon_dsl::plan::FieldRoot;
use acteon_dsl::syntax::ast::Item;
use std::ops::Range;
use std::sync::OnceLock;

/// The grammar the parser is generated from: its `kw_*` rules are the keywords.
const GRAMMAR: &str = include_str!("../../grammar/acteon.pest");

/// What to offer, before it becomes the protocol's items.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub label: String,
    pub kind: CandidateKind,
    pub detail: Option<String>,
    /// The text the candidate replaces: the partial word before the cursor.
    pub replaces: Range<usize>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CandidateKind {
    Keyword,
    Field,
    Provider,
    Chain,
    Step,
    Rule,
    Setting,
    Value,
}

/// Every keyword of the grammar (`kw_then = @{ "then" ~ boundary }` is `then`).
pub fn keywords() -> &'static [String] {
    static KEYWORDS: OnceLock<Vec<String>> = OnceLock::new();
    KEYWORDS.get_or_init(|| {
        GRAMMAR
            .lines()
            .filter(|l| l.trim_start().starts_with("kw_"))
            .filter_map(|l| l.split('"').nth(1))
            .map(str::to_string)
            .collect()
    })
}

const ACTIONS: [&str; 10] = [
    "suppress", "deny", "allow", "reroute", "chain", "modify", "dedup", "throttle", "group",
    "schedule",
];
pub fn complete(
    text: &str,
    offset: usize,
    analysis: Option<&Analysis>,
    fields: &Fields,
) -> Vec<Candidate> {
    let offset = offset.min(text.len());
    let line_start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
    let line = &text[line_start..offset];
    let mut lexed = Lexed::scan(&text[..offset]);
    if lexed.in_comment {
        return Vec::new();
    }
    // The token being typed: a name or a dotted path.
    let token_len = line
        .chars()
        .rev()
        .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        .map(char::len_utf8)
        .sum::<usize>();
    let token = &line[line.len() - token_len..];
    if !lexed.in_string
        && !token.is_empty()
        && lexed.words.last().map(String::as_str) == Some(token)
    {
        lexed.words.pop();
    }
    let word_len = token.rsplit('.').next().unwrap_or("").len();
    let replaces = offset - word_len..offset;
    let out = Out {
        replaces: replaces.clone(),
        analysis,
    };

    if let Some((path, _)) = token.rsplit_once('.') {
        return out.fields(path, fields, lexed.in_string);
    }
    if lexed.in_string {
        return Vec::new();
    }

    let before = &line[..line.len() - token_len];
    let words: Vec<&str> = lexed.words.iter().map(String::as_str).collect();
    let prev = words.last().copied().unwrap_or("");
    let prev2 = words.len().checked_sub(2).map_or("", |i| words[i]);
    let block = lexed.innermost_block();
    let chain = lexed.enclosing_chain();

    if before.trim_end().ends_with('=') {
        let key = before
            .trim_end()
            .trim_end_matches('=')
            .split_whitespace()
            .last();
        let info = block.and_then(|b| schema::keys(b)?.into_iter().find(|k| Some(k.name) == key));
        return match info {
            Some(info) if info.names_provider => out.names(Kind::Provider),
            Some(info) => info
                .words
                .iter()
                .map(|w| out.candidate(w, CandidateKind::Value, None))
                .collect(),
            None => Vec::new(),
        };
    }
    if let Some(block) = block {
        let at_key = before.trim().is_empty() || before.trim_end().ends_with('{');
        if at_key {
            return out.settings(block, &lexed.block_keys);
        }
    }
    let line_words: Vec<&str> = before.split_whitespace().collect();
    match (prev2, prev) {
        (_, "reroute" | "to" | "call" | "breaker") => out.names(Kind::Provider),
        ("then", "chain") | (_, "run") => out.names(Kind::Chain),
        (_, "next") => out.steps(chain.as_deref()),
        (_, "then") if chain.is_some() => out.steps(chain.as_deref()),
        (_, "rule") if line_words.first() == Some(&"expect") => out.names(Kind::Rule),
        ("provider", _) if line_words.len() == 2 && line_words[0] == "provider" => {
            schema::provider_types()
                .into_iter()
                .map(|t| out.candidate(t, CandidateKind::Value, Some("provider type")))
                .collect()
        }
        (_, "if") if chain.is_some() => ["success", "body"]
            .iter()
            .map(|r| out.candidate(r, CandidateKind::Field, Some("step result")))
            .collect(),
        (_, "when" | "and" | "or" | "not" | "by") => FieldRoot::ALL
            .iter()
            .map(|r| out.candidate(r.name(), CandidateKind::Field, Some("action field")))
            .collect(),
        (_, "then") => ACTIONS
            .iter()
            .map(|a| out.candidate(a, CandidateKind::Keyword, Some("action")))
            .collect(),
        _ => {
            let mut all: Vec<Candidate> = keywords()
                .iter()
                .map(|k| out.candidate(k, CandidateKind::Keyword, None))
                .collect();
            for kind in [Kind::Provider, Kind::Chain, Kind::Rule] {
                all.extend(out.names(kind));
            }
            all
        }
    }
}

struct Out<'a> {
    replaces: Range<usize>,
    analysis: Option<&'a Analysis>,
}

impl Out<'_> {
    fn candidate(&self, label: &str, kind: CandidateKind, detail: Option<&str>) -> Candidate {
        Candidate {
            label: label.to_string(),
            kind,
            detail: detail.map(str::to_string),
            replaces: self.replaces.clone(),
        }
    }

    /// Declared names of a kind, each with what it is.
    fn names(&self, kind: Kind) -> Vec<Candidate> {
        let Some(analysis) = self.analysis else {
            return Vec::new();
        };
        let program = &analysis.compiled.program;
        analysis
            .index
            .declared(kind)
            .into_iter()
            .map(|o| {
                let item = &program.file(o.item.file).ast.items[o.item.item];
                let detail = match item {
                    Item::Provider(p) => format!("provider, {}", p.kind.text),
                    Item::Rule(r) => format!("rule, priority {}", r.priority.value),
                    Item::Chain(c) => format!("chain of {} steps", c.steps.len()),
                    _ => kind.word().to_string(),
                };
                let candidate_kind = match kind {
                    Kind::Provider => CandidateKind::Provider,
                    Kind::Chain => CandidateKind::Chain,
                    Kind::Step => CandidateKind::Step,
                    _ => CandidateKind::Rule,
                };
                self.candidate(&o.name, candidate_kind, Some(&detail))
            })
            .collect()
    }

    fn steps(&self, chain: Option<&str>) -> Vec<Candidate> {
        let Some(analysis) = self.analysis else {
            return Vec::new();
        };
        analysis
            .index
            .declared(Kind::Step)
            .into_iter()
            .filter(|o| o.scope.as_deref() == chain)
            .map(|o| self.candidate(&o.name, CandidateKind::Step, Some("step")))
            .collect()
    }

    fn settings(&self, block: Block, given: &[String]) -> Vec<Candidate> {
        schema::keys(block)
            .unwrap_or_default()
            .into_iter()
            .filter(|k| !given.iter().any(|g| g == k.name))
            .map(|k| {
                let detail = format!(
                    "{}e.g. {} = {}",
                    if k.required { "required; " } else { "" },
                    k.name,
                    k.example
                );
                self.candidate(k.name, CandidateKind::Setting, Some(&detail))
            })
            .collect()
    }

    /// The fields below `path` (`payload.reading`), from the samples.
    fn fields(&self, path: &str, fields: &Fields, in_string: bool) -> Vec<Candidate> {
        let mut segments: Vec<&str> = path.split('.').collect();
        // In a step's payload template the action is `origin`.
        if in_string {
            match segments.first() {
                Some(&"origin") => {
                    segments.remove(0);
                }
                _ => return Vec::new(),
            }
            if segments.is_empty() {
                // What a template can read of the action that started the chain.
                return FieldRoot::ALL
                    .iter()
                    .map(|f| self.candidate(f.name(), CandidateKind::Field, Some("origin action")))
                    .collect();
            }
        }
        if !matches!(segments.first(), Some(&("payload" | "metadata"))) {
            return Vec::new();
        }
        let Some(node) = fields.below(&segments) else {
            return Vec::new();
        };
        node.children()
            .map(|(name, child)| {
                let detail = child.example.as_deref().map(|e| format!("e.g. {e}"));
                self.candidate(name, CandidateKind::Field, detail.as_deref())
            })
            .collect()
    }
}

/// The text before the cursor, read the way the grammar reads it: whether the cursor is in a
/// string or a comment, the words since the last brace, and the braces still open.
#[derive(Default)]
struct Lexed {
    in_string: bool,
    in_comment: bool,
    /// Code words since the last `{` or `}` (strings and comments left out).
    words: Vec<String>,
    /// Each open `{` with the words before it.
    open: Vec<Vec<String>>,
    /// The keys already given in the innermost block.
    block_keys: Vec<String>,
}

impl Lexed {
    fn scan(text: &str) -> Lexed {
        #[derive(PartialEq)]
        enum Mode {
            Code,
            Str,
            Regex,
            Comment,
        }
        let mut lexed = Lexed::default();
        let mut mode = Mode::Code;
        let mut escaped = false;
        let mut word = String::new();
        let mut keys: Vec<Vec<String>> = Vec::new();
        let flush = |word: &mut String, words: &mut Vec<String>| {
            if !word.is_empty() {
                words.push(std::mem::take(word));
            }
        };
        for c in text.chars() {
            match mode {
                Mode::Code => {
                    let is_word = c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.');
                    if is_word {
                        word.push(c);
                        continue;
                    }
                    flush(&mut word, &mut lexed.words);
                    match c {
                        '"' => mode = Mode::Str,
                        '/' => mode = Mode::Regex,
                        '#' => mode = Mode::Comment,
                        '{' => {
                            lexed.open.push(std::mem::take(&mut lexed.words));
                            keys.push(Vec::new());
                        }
                        '}' => {
                            lexed.open.pop();
                            keys.pop();
                            lexed.words.clear();
                        }
                        '=' => {
                            if let (Some(key), Some(given)) = (lexed.words.last(), keys.last_mut())
                            {
                                given.push(key.clone());
                            }
                            lexed.words.push("=".to_string());
                        }
                        _ => {}
                    }
                }
                Mode::Str | Mode::Regex if escaped => escaped = false,
                Mode::Str | Mode::Regex if c == '\\' => escaped = true,
                Mode::Str if c == '"' => mode = Mode::Code,
                Mode::Regex if c == '/' || c == '\n' => mode = Mode::Code,
                Mode::Comment if c == '\n' => mode = Mode::Code,
                Mode::Str | Mode::Regex | Mode::Comment => {}
            }
        }
        flush(&mut word, &mut lexed.words);
        lexed.in_string = mode == Mode::Str;
        lexed.in_comment = mode == Mode::Comment;
        lexed.block_keys = keys.pop().unwrap_or_default();
        lexed
    }

    /// The settings block the cursor is in, from the words before its `{`.
    fn innermost_block(&self) -> Option<Block<'_>> {
        let words = self.open.last()?;
        let last = |n: usize| -> Vec<&str> {
            words[words.len().saturating_sub(n)..]
                .iter()
                .map(String::as_str)
                .collect()
        };
        match (last(1).as_slice(), last(2).as_slice(), last(3).as_slice()) {
            (["breakers"], ..) => Some(Block::Breakers),
            (["audit"], ..) => Some(Block::Audit),
            (["background"], ..) => Some(Block::Background),
            (["retention"], ..) => Some(Block::Retention),
            (_, ["source", "kafka"], _) => Some(Block::KafkaSource),
            (_, ["from", "kafka"], _) => Some(Block::KafkaTable),
            (_, ["breaker", _], _) => Some(Block::Breaker),
            (_, ["recurring", _], _) => Some(Block::Recurring),
            (_, _, ["provider", _, kind]) => Some(Block::Provider(kind)),
            _ => None,
        }
    }

    /// The chain whose braces the cursor is in.
    fn enclosing_chain(&self) -> Option<String> {
        self.open.iter().rev().find_map(|words| {
            let at = words.iter().rposition(|w| w == "chain")?;
            let rest = &words[at + 1..];
            match rest {
                [name] | [name, _, _] => Some(name.clone()),
                _ => None,
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(text: &str) -> Vec<String> {
        let mut fields = Fields::default();
        fields.add(&serde_json::json!({ "payload": { "value": 1, "zone": "a" } }));
        complete(text, text.len(), None, &fields)
            .into_iter()
            .map(|c| c.label)
            .collect()
    }

    #[test]
    fn the_grammar_gives_the_keywords() {
        let keywords = keywords();
        for word in [
            "rule",
            "priority",
            "then",
            "starts_with",
            "on_failure",
            "expect",
        ] {
            assert!(keywords.iter().any(|k| k == word), "{word}");
        }
    }

    #[test]
    fn contexts_are_read_from_the_text_before_the_cursor() {
        assert_eq!(labels("rule r priority 1 when payload."), ["value", "zone"]);
        assert_eq!(
            labels("rule r priority 1 when payload.zo"),
            ["value", "zone"]
        );
        assert!(labels("rule r priority 1 when paylo").contains(&"payload".to_string()));
        assert!(labels("rule r priority 1 then ").contains(&"reroute".to_string()));
        let sns = labels("provider a aws-sns {\n  region = \"x\"\n  ");
        assert!(sns.contains(&"topic_arn".to_string()), "{sns:?}");
        assert!(
            !sns.contains(&"region".to_string()),
            "given already: {sns:?}"
        );
        assert_eq!(
            labels("source kafka {\n  start = "),
            ["earliest", "latest", "committed"]
        );
        assert!(labels("provider a aws-s").contains(&"aws-sns".to_string()));
        assert!(labels("# a comment then ").is_empty());
        assert_eq!(
            labels("chain c { step s call p x { \"v\": \"{{origin.payload."),
            ["value", "zone"]
        );
    }
}
