//! The long explanation of every code (`acteon explain --code E0101`): what it means, an
//! example that gets it, and the example written correctly. The texts are Markdown, one file
//! per code in `explanations/`; `docs/diagnostics.md` is generated from them and a test keeps
//! it so, and another test checks that each example gets exactly the code it shows.

use super::Code;

/// The explanation of `code`, as Markdown whose first line is `# CODE: title`.
pub fn explanation(code: Code) -> &'static str {
    match code {
        Code::Syntax => include_str!("explanations/E0001.md"),
        Code::IncludeMissing => include_str!("explanations/E0002.md"),
        Code::IncludeCycle => include_str!("explanations/E0003.md"),
        Code::UnknownProvider => include_str!("explanations/E0101.md"),
        Code::UnknownChain => include_str!("explanations/E0102.md"),
        Code::UnknownStep => include_str!("explanations/E0103.md"),
        Code::DuplicateName => include_str!("explanations/E0104.md"),
        Code::BadFieldPath => include_str!("explanations/E0105.md"),
        Code::UnknownTable => include_str!("explanations/E0106.md"),
        Code::BadTableKey => include_str!("explanations/E0107.md"),
        Code::UnknownRowField => include_str!("explanations/E0108.md"),
        Code::BadTableFile => include_str!("explanations/E0109.md"),
        Code::BadRegex => include_str!("explanations/E0201.md"),
        Code::BadDuration => include_str!("explanations/E0202.md"),
        Code::BadCount => include_str!("explanations/E0203.md"),
        Code::BadCron => include_str!("explanations/E0204.md"),
        Code::StepCycle => include_str!("explanations/E0301.md"),
        Code::SubChainRecursion => include_str!("explanations/E0302.md"),
        Code::FallbackCycle => include_str!("explanations/E0303.md"),
        Code::BadTemplateReference => include_str!("explanations/E0401.md"),
        Code::MalformedTemplate => include_str!("explanations/E0402.md"),
        Code::UnknownSetting => include_str!("explanations/E0501.md"),
        Code::MissingSetting => include_str!("explanations/E0502.md"),
        Code::BadSettingValue => include_str!("explanations/E0503.md"),
        Code::Repeated => include_str!("explanations/E0504.md"),
        Code::UnknownOutcome => include_str!("explanations/E0601.md"),
        Code::BadTestInput => include_str!("explanations/E0602.md"),
        Code::UnreachableRule => include_str!("explanations/W0001.md"),
        Code::ModifyUnreachable => include_str!("explanations/W0002.md"),
    }
}

/// The title of `code`'s explanation: "unknown provider" for E0101.
pub fn title(code: Code) -> &'static str {
    let first = explanation(code).lines().next().unwrap_or_default();
    first.split_once(": ").map_or(first, |(_, title)| title)
}

/// `docs/diagnostics.md`: an index of the codes, then every explanation.
pub fn book_chapter() -> String {
    let mut out = String::from(
        "# Diagnostics\n\n\
         <!-- Generated from dsl/src/diagnostic/explanations/ by `dsl/tests/docs.rs`; edit those \
         files, then run `UPDATE_DOCS=1 cargo test -p acteon-dsl --test docs`. -->\n\n\
         Every problem `acteon check` finds has a stable code. Errors (`E`) stop a script from \
         running; warnings (`W`) do not, unless `--deny-warnings` is given. \
         `acteon explain --code CODE` prints one of these explanations in a terminal.\n\n\
         | code | meaning |\n|---|---|\n",
    );
    for code in Code::ALL {
        let anchor = format!("{}-{}", code.as_str(), title(code))
            .to_lowercase()
            .chars()
            .filter(|c| c.is_alphanumeric() || *c == ' ' || *c == '-')
            .map(|c| if c == ' ' { '-' } else { c })
            .collect::<String>();
        out.push_str(&format!(
            "| [{}](#{anchor}) | {} |\n",
            code.as_str(),
            title(code)
        ));
    }
    for code in Code::ALL {
        // One level down: the chapter's title is the only first-level heading.
        out.push_str("\n#");
        out.push_str(explanation(code));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_explanation_is_titled_with_its_code() {
        for code in Code::ALL {
            let first = explanation(code).lines().next().unwrap();
            assert!(
                first.starts_with(&format!("# {}: ", code.as_str())),
                "{first}"
            );
            assert!(!title(code).is_empty());
        }
    }
}
