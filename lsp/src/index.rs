//! Every place a script declares or names a rule, provider, chain, step, recurring action,
//! test or included file: what go to definition, find references, hover and rename-free
//! navigation read. Built from the loaded program after each change, across its includes.

use acteon_dsl::load::Program;
use acteon_dsl::source::FileId;
use acteon_dsl::syntax::ast::{ActionKind, Item, LiteralKind, Name, Setting, StepRun, TestEntry};
use std::ops::Range;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Rule,
    Provider,
    Chain,
    /// Steps are named within their chain: the occurrence's `scope` is the chain.
    Step,
    Recurring,
    Test,
    Table,
    /// An `include "FILE"`: the occurrence's `target` is the file.
    Include,
}

impl Kind {
    pub fn word(self) -> &'static str {
        match self {
            Kind::Rule => "rule",
            Kind::Provider => "provider",
            Kind::Chain => "chain",
            Kind::Step => "step",
            Kind::Recurring => "recurring action",
            Kind::Test => "test",
            Kind::Table => "table",
            Kind::Include => "include",
        }
    }
}

/// Where an item sits in the AST: its file, its index in the file's items, and for a step its
/// index in the chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ItemRef {
    pub file: FileId,
    pub item: usize,
    pub step: Option<usize>,
}

#[derive(Debug, Clone)]
pub struct Occurrence {
    pub kind: Kind,
    pub name: String,
    /// The chain of a step.
    pub scope: Option<String>,
    pub file: FileId,
    pub span: Range<usize>,
    pub declaration: bool,
    /// The item the occurrence is in (for a declaration: the item it declares).
    pub item: ItemRef,
    /// The file an include loaded.
    pub target: Option<FileId>,
}

impl Occurrence {
    fn same_symbol(&self, other: &Occurrence) -> bool {
        self.kind == other.kind && self.name == other.name && self.scope == other.scope
    }
}

#[derive(Debug, Default)]
pub struct Index {
    pub occurrences: Vec<Occurrence>,
}

impl Index {
    pub fn build(program: &Program) -> Index {
        let mut builder = Builder::default();
        for (file, item) in program.items() {
            let parsed = program.file(file);
            let Some(index) = parsed.ast.items.iter().position(|i| std::ptr::eq(i, item)) else {
                continue;
            };
            let at = ItemRef {
                file,
                item: index,
                step: None,
            };
            builder.item(at, item, parsed.includes.get(&index).copied());
        }
        Index {
            occurrences: builder.out,
        }
    }

    /// The occurrence under `offset` in `file` (its end counts: the cursor is often just past
    /// the name).
    pub fn at(&self, file: FileId, offset: usize) -> Option<&Occurrence> {
        self.occurrences
            .iter()
            .filter(|o| o.file == file && o.span.start <= offset && offset <= o.span.end)
            .min_by_key(|o| o.span.len())
    }

    /// The first declaration of what `occurrence` names.
    pub fn declaration(&self, occurrence: &Occurrence) -> Option<&Occurrence> {
        self.occurrences
            .iter()
            .find(|o| o.declaration && o.same_symbol(occurrence))
    }

    /// Every occurrence of what `occurrence` names, declarations included or not.
    pub fn references<'a>(
        &'a self,
        occurrence: &'a Occurrence,
        with_declaration: bool,
    ) -> impl Iterator<Item = &'a Occurrence> + 'a {
        self.occurrences
            .iter()
            .filter(move |o| o.same_symbol(occurrence) && (with_declaration || !o.declaration))
    }

    /// The declared names of a kind, in evaluation order, each once.
    pub fn declared(&self, kind: Kind) -> Vec<&Occurrence> {
        let mut out: Vec<&Occurrence> = Vec::new();
        for o in self
            .occurrences
            .iter()
            .filter(|o| o.kind == kind && o.declaration)
        {
            if !out.iter().any(|seen| seen.same_symbol(o)) {
                out.push(o);
            }
        }
        out
    }
}

#[derive(Default)]
struct Builder {
    out: Vec<Occurrence>,
}

impl Builder {
    fn push(&mut self, kind: Kind, at: ItemRef, name: &Name, declaration: bool) {
        self.out.push(Occurrence {
            kind,
            name: name.text.clone(),
            scope: None,
            file: at.file,
            span: name.span.clone(),
            declaration,
            item: at,
            target: None,
        });
    }

    fn step(&mut self, chain: &str, at: ItemRef, name: &Name, declaration: bool) {
        self.push(Kind::Step, at, name, declaration);
        self.out.last_mut().expect("just pushed").scope = Some(chain.to_string());
    }

    /// A setting whose value names a provider (`fallback = x`, `provider = x`).
    fn provider_setting(&mut self, at: ItemRef, settings: &[Setting], key: &str) {
        for setting in settings.iter().filter(|s| s.key.text == key) {
            if let LiteralKind::Name(text) = &setting.value.kind {
                let name = Name {
                    text: text.clone(),
                    span: setting.value.span.clone(),
                };
                self.push(Kind::Provider, at, &name, false);
            }
        }
    }

    fn item(&mut self, at: ItemRef, item: &Item, included: Option<FileId>) {
        for value in item.row_values() {
            self.push(Kind::Table, at, &value.row.table, false);
        }
        match item {
            Item::Include(include) => self.out.push(Occurrence {
                kind: Kind::Include,
                name: include.path.value.clone(),
                scope: None,
                file: at.file,
                span: include.path.span.clone(),
                declaration: false,
                item: at,
                target: included,
            }),
            Item::Provider(p) => self.push(Kind::Provider, at, &p.name, true),
            Item::Table(table) => self.push(Kind::Table, at, &table.name, true),
            Item::Rule(rule) => {
                self.push(Kind::Rule, at, &rule.name, true);
                match &rule.action.kind {
                    ActionKind::Reroute(p) | ActionKind::Group { to: Some(p), .. } => {
                        self.push(Kind::Provider, at, p, false)
                    }
                    ActionKind::Chain(c) => self.push(Kind::Chain, at, c, false),
                    _ => {}
                }
            }
            Item::Chain(chain) => {
                self.push(Kind::Chain, at, &chain.name, true);
                let name = chain.name.text.as_str();
                for (index, step) in chain.steps.iter().enumerate() {
                    let at = ItemRef {
                        step: Some(index),
                        ..at
                    };
                    self.step(name, at, &step.name, true);
                    match &step.run {
                        StepRun::Call { provider, .. } => {
                            self.push(Kind::Provider, at, provider, false)
                        }
                        StepRun::Run { chain } => self.push(Kind::Chain, at, chain, false),
                    }
                    for target in step.branches.iter().map(|b| &b.target).chain(&step.next) {
                        self.step(name, at, target, false);
                    }
                }
            }
            Item::Breaker(breaker) => {
                self.push(Kind::Provider, at, &breaker.provider, false);
                self.provider_setting(at, &breaker.settings.settings, "fallback");
            }
            Item::Recurring(recurring) => {
                self.push(Kind::Recurring, at, &recurring.name, true);
                self.provider_setting(at, &recurring.settings.settings, "provider");
            }
            Item::Test(test) => {
                let name = Name {
                    text: test.name.value.clone(),
                    span: test.name.span.clone(),
                };
                self.push(Kind::Test, at, &name, true);
                for entry in &test.entries {
                    match entry {
                        TestEntry::ExpectOutcome { to, rule, .. } => {
                            if let Some(p) = to {
                                self.push(Kind::Provider, at, p, false);
                            }
                            if let Some(r) = rule {
                                self.push(Kind::Rule, at, r, false);
                            }
                        }
                        TestEntry::ExpectCalls { provider, .. } => {
                            self.push(Kind::Provider, at, provider, false)
                        }
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
}
