//! `${VAR}` in config.yaml string values, replaced by that environment variable: for secrets
//! such as tokens in source URLs that should not sit in the file, and for values that differ
//! between machines.
//!
//! Expansion happens per value, after YAML parsing, so a variable's content is always plain
//! text: it cannot add keys or turn the rest of a line into a comment. An unset variable is an
//! error that names it, at the value's line and column.

use std::ops::Deref;

use serde::{Deserialize, Deserializer};

/// A config string with its `${VAR}`s expanded from the environment; `$${` writes a literal
/// `${`.
#[derive(Clone, Default, PartialEq, Eq)]
pub(super) struct Expanded(pub String);

/// As the string: error messages quote values with `{:?}`.
impl std::fmt::Debug for Expanded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl Deref for Expanded {
    type Target = String;

    fn deref(&self) -> &String {
        &self.0
    }
}

impl<'de> Deserialize<'de> for Expanded {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Expanded, D::Error> {
        let text = String::deserialize(deserializer)?;
        expand(&text, |name| std::env::var(name).ok())
            .map(Expanded)
            .map_err(serde::de::Error::custom)
    }
}

/// `text` with each `${NAME}` replaced by `lookup(NAME)`; the error says which variable is
/// missing or which reference is malformed.
pub fn expand(text: &str, lookup: impl Fn(&str) -> Option<String>) -> Result<String, String> {
    let mut expanded = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find('$') {
        expanded.push_str(&rest[..start]);
        let after = &rest[start..];
        if let Some(literal) = after.strip_prefix("$${") {
            expanded.push_str("${");
            rest = literal;
        } else if let Some(reference) = after.strip_prefix("${") {
            let Some(end) = reference.find('}') else {
                return Err(format!(
                    "\"${{\" without a closing \"}}\" in {text:?} (write $${{ for a literal ${{)"
                ));
            };
            let name = &reference[..end];
            if !is_variable_name(name) {
                return Err(format!(
                    "\"${{{name}}}\" is not an environment variable reference (names are letters, digits and '_', not starting with a digit)"
                ));
            }
            let Some(value) = lookup(name) else {
                return Err(format!(
                    "the environment variable {name} is not set (set it, or write $${{{name}}} for a literal ${{{name}}})"
                ));
            };
            expanded.push_str(&value);
            rest = &reference[end + 1..];
        } else {
            expanded.push('$');
            rest = &after[1..];
        }
    }
    expanded.push_str(rest);
    Ok(expanded)
}

fn is_variable_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|first| first.is_ascii_alphabetic() || first == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup(name: &str) -> Option<String> {
        match name {
            "TOKEN" => Some("s3cr#t: x".to_string()),
            "EMPTY" => Some(String::new()),
            _ => None,
        }
    }

    #[test]
    fn references_are_replaced_and_the_rest_kept() {
        assert_eq!(
            expand("https://x.test/feed?token=${TOKEN}&a=$5", lookup).unwrap(),
            "https://x.test/feed?token=s3cr#t: x&a=$5"
        );
        assert_eq!(expand("${EMPTY}${EMPTY}end$", lookup).unwrap(), "end$");
        assert_eq!(expand("no references", lookup).unwrap(), "no references");
    }

    #[test]
    fn a_doubled_dollar_keeps_a_literal_reference() {
        assert_eq!(
            expand("$${TOKEN} ${TOKEN}", lookup).unwrap(),
            "${TOKEN} s3cr#t: x"
        );
    }

    #[test]
    fn unset_and_malformed_references_are_errors_that_say_which() {
        let unset = expand("a ${MISSING_TOKEN} b", lookup).unwrap_err();
        assert!(unset.contains("MISSING_TOKEN is not set"), "{unset}");
        let open = expand("a ${TOKEN", lookup).unwrap_err();
        assert!(open.contains("without a closing"), "{open}");
        let bad = expand("${1X}", lookup).unwrap_err();
        assert!(bad.contains("\"${1X}\" is not"), "{bad}");
    }
}
