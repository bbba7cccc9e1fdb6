//! Loading follows includes relative to the including file and reports missing, cyclic and
//! repeated ones.

use acteon_dsl::diagnostic::Code;
use acteon_dsl::load::{load_file, load_str};
use acteon_dsl::{compile_file, compile_str};
use std::fs;
use std::path::Path;

fn write(dir: &Path, name: &str, text: &str) {
    let path = dir.join(name);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, text).unwrap();
}

#[test]
fn includes_expand_in_place_relative_to_the_including_file() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "main.acteon",
        "include \"sub/a.acteon\"\nrule m priority 1 then allow\n",
    );
    write(
        dir.path(),
        "sub/a.acteon",
        "scope namespace \"n\"\ninclude \"b.acteon\"\nrule a priority 1 then deny\n",
    );
    write(
        dir.path(),
        "sub/b.acteon",
        "rule b priority 1 then suppress\n",
    );
    let compiled = compile_file(dir.path().join("main.acteon"));
    assert!(!compiled.has_errors(), "{}", compiled.render_diagnostics());
    let plan = compiled.plan.unwrap();
    let names: Vec<_> = plan.rules.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["b", "a", "m"]);
    // Each file has its own scope.
    assert_eq!(plan.rules[1].scope.namespace.as_deref(), Some("n"));
    assert_eq!(plan.rules[0].scope.namespace, None);
    assert!(plan.rules[0].origin.file.ends_with("sub/b.acteon"));
}

#[test]
fn a_missing_include_is_reported_at_its_path() {
    let dir = tempfile::tempdir().unwrap();
    let text = "include \"nope.acteon\"\n";
    let compiled = compile_str(dir.path().join("main.acteon"), text);
    assert!(compiled.has_errors());
    assert!(compiled.plan.is_none());
    let d = &compiled.diagnostics[0];
    assert_eq!(d.code, Code::IncludeMissing);
    assert_eq!(&text[d.span.clone()], "\"nope.acteon\"");
    assert!(compiled.render_diagnostics().contains("error[E0002]"));
}

#[test]
fn a_missing_root_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let program = load_file(&dir.path().join("absent.acteon"));
    assert_eq!(program.diagnostics[0].code, Code::IncludeMissing);
}

#[test]
fn cycles_and_repeats_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "a.acteon", "include \"b.acteon\"\n");
    write(dir.path(), "b.acteon", "include \"a.acteon\"\n");
    let program = load_file(&dir.path().join("a.acteon"));
    let codes: Vec<_> = program.diagnostics.iter().map(|d| d.code).collect();
    assert_eq!(codes, [Code::IncludeCycle]);
    assert_eq!(program.files.len(), 2);

    write(dir.path(), "c.acteon", "rule c priority 1 then allow\n");
    write(
        dir.path(),
        "twice.acteon",
        "include \"c.acteon\"\ninclude \"./c.acteon\"\n",
    );
    let program = load_file(&dir.path().join("twice.acteon"));
    let codes: Vec<_> = program.diagnostics.iter().map(|d| d.code).collect();
    assert_eq!(codes, [Code::IncludeCycle]);
    assert_eq!(program.items().len(), 3);
}

#[test]
fn syntax_errors_in_included_files_are_collected() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "bad.acteon", "rule x priority then allow\n");
    write(dir.path(), "also-bad.acteon", "rule y priority 1 then\n");
    let text = "include \"bad.acteon\"\ninclude \"also-bad.acteon\"\n";
    let compiled = compile_str(dir.path().join("main.acteon"), text);
    assert_eq!(compiled.errors(), 2);
    assert_eq!(compiled.warnings(), 0);
    let files: Vec<_> = compiled.diagnostics.iter().map(|d| d.file.0).collect();
    assert_eq!(files, [1, 2]);
    let rendered = compiled.render_diagnostics();
    assert!(
        rendered.contains("bad.acteon:1:17: error[E0001]: unexpected `then`"),
        "{rendered}"
    );
}

#[test]
fn a_root_given_as_text_reads_includes_from_its_directory() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "r.acteon", "rule r priority 2 then allow\n");
    let program = load_str(&dir.path().join("root.acteon"), "include \"r.acteon\"\n");
    assert!(program.diagnostics.is_empty(), "{:?}", program.diagnostics);
    assert_eq!(program.files.len(), 2);
}
