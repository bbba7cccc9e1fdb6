//! Tables and the rows' values rules read: the table a value names exists, its key is an action
//! field that can be a string, a table file can be read and holds rows, and a field read from a
//! file table's rows is one some row has.

use super::conditions;
use super::names::unresolved;
use super::{suggestion, Context};
use crate::diagnostic::{Code, Diagnostic};
use crate::plan::{FieldRoot, PathSegment};
use crate::rows::{read_file, FileRow, RowsError};
use crate::source::FileId;
use crate::syntax::ast::{Item, PathSegmentKind, RowValue, TableSourceDecl};
use serde_json::Value;
use std::collections::{BTreeSet, HashMap};

pub(super) fn check(cx: &Context, out: &mut Vec<Diagnostic>) {
    let mut files: HashMap<String, Option<Vec<FileRow>>> = HashMap::new();
    for (file, item) in cx.items() {
        if let Item::Table(table) = item {
            if let TableSourceDecl::File(path) = &table.source {
                let rows = match read_file(&cx.relative(file, &path.value), &table.key.text) {
                    Ok(rows) => Some(rows),
                    Err(error) => {
                        out.push(bad_file(file, path.span.clone(), &error));
                        None
                    }
                };
                files.entry(table.name.text.clone()).or_insert(rows);
            }
        }
    }
    for (file, value) in row_values(cx) {
        let row = &value.row;
        let Some((_, table)) = cx.symbols.table(&row.table.text) else {
            let known = cx.symbols.table_names();
            let declaration = |n: &str| cx.symbols.table(n).map(|(f, t)| (f, &t.name));
            out.push(unresolved(
                Code::UnknownTable,
                "table",
                file,
                &row.table,
                &known,
                declaration,
            ));
            continue;
        };
        let before = out.len();
        conditions::field(file, &row.key, out);
        if out.len() == before {
            key_can_be_text(file, value, out);
        }
        if let Some(Some(rows)) = files.get(&table.name.text) {
            field_in_rows(file, value, &table.key.text, rows, out);
        }
    }
}

/// Every row value of the script, where it is written.
fn row_values<'p>(cx: &Context<'p>) -> Vec<(FileId, &'p RowValue)> {
    cx.items()
        .into_iter()
        .flat_map(|(file, item)| item.row_values().into_iter().map(move |v| (file, v)))
        .collect()
}

/// A key is the text of a string: the whole payload or metadata object never is one.
fn key_can_be_text(file: FileId, value: &RowValue, out: &mut Vec<Diagnostic>) {
    let key = &value.row.key;
    let whole = key.segments.is_empty()
        && matches!(
            FieldRoot::from_name(&key.root.text),
            Some(FieldRoot::Payload | FieldRoot::Metadata)
        );
    if whole {
        out.push(
            Diagnostic::new(
                Code::BadTableKey,
                file,
                key.span.clone(),
                format!(
                    "`{}` is an object, never a string: it cannot be a row's key",
                    key.root.text
                ),
            )
            .with_label("an object")
            .with_hint(format!(
                "look rows up by a field below it, e.g. `{}[{}.device_id]`",
                value.row.table.text, key.root.text
            )),
        );
    }
}

/// A field read from a file table's rows must be one that some row has.
fn field_in_rows(
    file: FileId,
    value: &RowValue,
    key: &str,
    rows: &[FileRow],
    out: &mut Vec<Diagnostic>,
) {
    let path: Vec<PathSegment> = value
        .row
        .field
        .iter()
        .map(|s| match &s.kind {
            PathSegmentKind::Key(k) | PathSegmentKind::QuotedKey(k) => PathSegment::Key(k.clone()),
            PathSegmentKind::Index(i) => PathSegment::Index(*i),
        })
        .collect();
    if path.is_empty() || rows.is_empty() {
        return;
    }
    if rows
        .iter()
        .any(|row| crate::plan::walk(&row.value, &path).is_some())
    {
        return;
    }
    // The first segment no row has below the part that some row has: what to point at.
    let known = (0..path.len())
        .rev()
        .find(|&n| {
            rows.iter()
                .any(|r| crate::plan::walk(&r.value, &path[..n]).is_some())
        })
        .unwrap_or(0);
    let segment = &value.row.field[known];
    let mut names: BTreeSet<&str> = BTreeSet::new();
    for row in rows {
        if let Some(Value::Object(fields)) = crate::plan::walk(&row.value, &path[..known]) {
            names.extend(fields.keys().map(String::as_str));
        }
    }
    let written = match &segment.kind {
        PathSegmentKind::Key(k) | PathSegmentKind::QuotedKey(k) => k.clone(),
        PathSegmentKind::Index(i) => i.to_string(),
    };
    let hint = suggestion(&written, names.iter().copied()).unwrap_or_else(|| {
        let names: Vec<String> = names.iter().take(12).map(|n| format!("`{n}`")).collect();
        format!("the rows have {} (key: `{key}`)", names.join(", "))
    });
    out.push(
        Diagnostic::new(
            Code::UnknownRowField,
            file,
            segment.span.clone(),
            format!(
                "no row of table `{}` has the field `{written}`",
                value.row.table.text
            ),
        )
        .with_label("in no row of the file")
        .with_hint(hint),
    );
}

fn bad_file(file: FileId, span: crate::syntax::ast::Span, error: &RowsError) -> Diagnostic {
    let hint = match error {
        RowsError::Read { .. } => "the path is relative to the script that names it",
        RowsError::Line { .. } => {
            "a table file holds one JSON object per line, each with its key field as a string"
        }
    };
    Diagnostic::new(
        Code::BadTableFile,
        file,
        span,
        format!("table file: {error}"),
    )
    .with_hint(hint)
}
