//! Diagnoses (DESIGN §4): a ```` ```yaml diagnosis ```` fence names the cause behind a pattern of
//! step results — `{id, when, cause, fix, severity}` — so a run can lead with one cause instead
//! of a list of symptoms.

use super::step::Severity;
use super::template::Expr;
use serde::Deserialize;
use serde_saphyr::Spanned;

/// Every key a diagnosis may have, for "did you mean" hints.
pub(crate) const DIAGNOSIS_FIELDS: [&str; 5] = ["id", "when", "cause", "fix", "severity"];

/// A diagnosis exactly as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawDiagnosis {
    pub id: Option<Spanned<String>>,
    pub when: Option<Spanned<Expr>>,
    pub cause: Option<Spanned<String>>,
    #[serde(default)]
    pub fix: OneOrMany,
    pub severity: Option<Severity>,
}

/// A list that may be written as a single string (`fix: reboot`).
#[derive(Debug, Default)]
pub(crate) struct OneOrMany(pub Vec<Spanned<String>>);

impl<'de> Deserialize<'de> for OneOrMany {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // Not `#[serde(untagged)]`: buffering the value would lose each item's position.
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = OneOrMany;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a step id or a list of them")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<OneOrMany, E> {
                let at = serde_saphyr::Location::UNKNOWN;
                Ok(OneOrMany(vec![Spanned::new(v.to_string(), at, at)]))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<OneOrMany, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element::<Spanned<String>>()? {
                    items.push(item);
                }
                Ok(OneOrMany(items))
            }
        }
        deserializer.deserialize_any(V)
    }
}

/// What a diagnosis proposes: a step of this runbook (its repair) or another runbook (a link).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fix {
    Step(String),
    /// A relative `.md` link as written (`cuda-wsl2.md`, `../ops/x.md#anchor`, `#section`).
    Link(String),
}

impl Fix {
    /// Links end in `.md` (with an optional `#anchor`) or are a bare `#anchor`; anything else
    /// names a step.
    pub fn parse(text: &str) -> Fix {
        let text = text.trim();
        let path = text.split('#').next().unwrap_or_default();
        if text.starts_with('#') || path.ends_with(".md") || path.contains('/') {
            Fix::Link(text.to_string())
        } else {
            Fix::Step(text.to_string())
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            Fix::Step(s) | Fix::Link(s) => s,
        }
    }
}

/// A diagnosis ready to evaluate: validated, defaults applied.
#[derive(Debug, Clone)]
pub struct Diagnosis {
    pub id: String,
    pub when: Expr,
    pub cause: String,
    pub fix: Vec<Fix>,
    pub severity: Severity,
    /// Line of the opening fence in the `.md` file.
    pub line: usize,
    /// Anchor of the section (H1–H3) the diagnosis sits in: the prose that explains the cause.
    pub section: Option<String>,
}

impl Diagnosis {
    /// The step ids `when` reads (`steps.<id>…`): the checks that are its evidence.
    pub fn evidence_steps(&self) -> Vec<String> {
        let mut ids: Vec<String> = Vec::new();
        for reference in &self.when.references {
            let mut parts = reference.split('.');
            if parts.next() == Some("steps")
                && let Some(id) = parts.next()
                && !ids.iter().any(|known| known == id)
            {
                ids.push(id.to_string());
            }
        }
        ids
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixes_are_steps_or_links() {
        assert_eq!(Fix::parse("reload_uvm"), Fix::Step("reload_uvm".into()));
        assert_eq!(Fix::parse("cuda-wsl2.md"), Fix::Link("cuda-wsl2.md".into()));
        assert_eq!(Fix::parse("x.md#rebuild"), Fix::Link("x.md#rebuild".into()));
        assert_eq!(Fix::parse("#rebuild"), Fix::Link("#rebuild".into()));
        assert_eq!(Fix::parse("../ops/x"), Fix::Link("../ops/x".into()));
    }
}
