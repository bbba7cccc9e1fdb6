//! `acteon import`: the older gateway's `acteon.toml` and its directory of rule YAML files, as
//! one equivalent `.acteon` script.
//!
//! What a script can express is converted; everything else (server and state settings, rule
//! constructs such as `semantic_match` or `state_machine` actions, keys the older gateway
//! ignored) is listed by name in [`Imported::unconverted`], never dropped silently. A rule that
//! uses such a construct is left out whole, since converting only part of its condition would
//! make it match more than it did.
//!
//! Module map: [`config`] reads the TOML (providers, breakers, audit, background), [`chains`]
//! its chain definitions, [`rules`] the YAML files, [`condition`] their conditions, and
//! [`emit`] writes literals and blocks. The script is then parsed and printed by the formatter.

mod chains;
mod condition;
mod config;
mod emit;
mod rules;

use crate::source::FileId;
use std::path::{Path, PathBuf};

/// The imported script and what it leaves out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Imported {
    /// One canonical `.acteon` script.
    pub script: String,
    /// Every key or construct the script does not carry, e.g. `[state]`,
    /// `[server] approval_secret` or `rule x condition: semantic_match`.
    pub unconverted: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: invalid TOML: {source}", path.display())]
    Toml {
        path: PathBuf,
        #[source]
        source: toml::de::Error,
    },
    #[error("{}: invalid YAML: {source}", path.display())]
    Yaml {
        path: PathBuf,
        #[source]
        source: serde_yaml::Error,
    },
    /// The file is valid TOML or YAML but not the older gateway's configuration.
    #[error("{}: {message}", path.display())]
    Invalid { path: PathBuf, message: String },
    /// The importer wrote a script the parser refuses: a bug here, or a name the older format
    /// allowed and scripts do not.
    #[error("the imported script does not parse: {0}")]
    Script(String),
}

/// A TOML section that is not shaped as the older gateway's; the caller knows the file.
pub(crate) struct Invalid(String);

/// The running list of what was not converted.
#[derive(Default)]
pub(crate) struct Unconverted(Vec<String>);

impl Unconverted {
    fn note(&mut self, what: impl Into<String>) {
        let what = what.into();
        if !self.0.contains(&what) {
            self.0.push(what);
        }
    }
}

/// Converts `config_toml` and the rule files in `rules_dir` into one script.
pub fn import(config_toml: &Path, rules_dir: &Path) -> Result<Imported, ImportError> {
    let text = std::fs::read_to_string(config_toml).map_err(|source| ImportError::Read {
        path: config_toml.to_path_buf(),
        source,
    })?;
    let root: toml::Table = toml::from_str(&text).map_err(|source| ImportError::Toml {
        path: config_toml.to_path_buf(),
        source,
    })?;
    let mut notes = Unconverted::default();
    let config =
        config::convert(&root, &mut notes).map_err(|Invalid(message)| ImportError::Invalid {
            path: config_toml.to_path_buf(),
            message,
        })?;
    let mut rules = rules::read_dir(rules_dir, &mut notes)?;
    let scope = rules::extract_scope(
        &mut rules,
        config.home_namespace.as_deref(),
        config.home_tenant.as_deref(),
    );

    let mut script = format!(
        "# Imported by `acteon import` from {} and {}/*.yaml.\n",
        file_name(config_toml),
        file_name(rules_dir)
    );
    if let Some(scope) = scope {
        script.push_str(&scope);
        script.push('\n');
    }
    for item in &config.items {
        script.push_str(item);
    }
    let mut file = None;
    for rule in &rules {
        if file != Some(&rule.file) {
            script.push_str(&format!("# From {}.\n", rule.file));
            file = Some(&rule.file);
        }
        rule.write(&mut script);
    }

    let path = config_toml.with_extension("acteon");
    let ast = crate::syntax::parse(FileId(0), &path, &script)
        .map_err(|d| ImportError::Script(format!("{}\n{script}", d.message)))?;
    Ok(Imported {
        script: crate::fmt::format(&ast, &script),
        unconverted: notes.0,
    })
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .unwrap_or(path.as_os_str())
        .to_string_lossy()
        .into_owned()
}
