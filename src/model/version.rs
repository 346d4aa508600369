//! Version requirements for NVIDIA and CUDA strings, which are not semver: `575.57.08`, `12.8`.

use std::cmp::Ordering;
use std::fmt;

/// A dotted version compared component by component as integers; missing parts are zero,
/// so `12.8 == 12.8.0` and `575.57.08 > 575.57.3`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version(pub Vec<u64>);

impl Version {
    /// Reads the leading dotted number of `text` (`"575.57.08"`, `"12.8"`, `"v1.2-rc1"` → 1.2).
    pub fn parse(text: &str) -> Option<Version> {
        let text = text.trim().trim_start_matches(['v', 'V']);
        let mut parts = Vec::new();
        for part in text.split('.') {
            let digits: String = part.chars().take_while(|c| c.is_ascii_digit()).collect();
            if digits.is_empty() {
                break;
            }
            parts.push(digits.parse().ok()?);
            if digits.len() != part.len() {
                break;
            }
        }
        (!parts.is_empty()).then_some(Version(parts))
    }

    fn cmp_numeric(&self, other: &Version) -> Ordering {
        let len = self.0.len().max(other.0.len());
        (0..len)
            .map(|i| {
                let a = self.0.get(i).copied().unwrap_or(0);
                let b = other.0.get(i).copied().unwrap_or(0);
                a.cmp(&b)
            })
            .find(|o| o.is_ne())
            .unwrap_or(Ordering::Equal)
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.0.iter().map(u64::to_string).collect();
        write!(f, "{}", parts.join("."))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VersionOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl VersionOp {
    fn symbol(self) -> &'static str {
        match self {
            VersionOp::Eq => "==",
            VersionOp::Ne => "!=",
            VersionOp::Lt => "<",
            VersionOp::Le => "<=",
            VersionOp::Gt => ">",
            VersionOp::Ge => ">=",
        }
    }
}

/// `">=570"`, `">=12.0, <13"`: every comparison must hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionReq {
    pub source: String,
    pub terms: Vec<(VersionOp, Version)>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bad version requirement `{0}`: write comparisons like \">=570\", \"<13\" or \">=12.0, <13\"")]
pub struct BadVersionReq(pub String);

impl VersionReq {
    pub fn parse(source: &str) -> Result<VersionReq, BadVersionReq> {
        let bad = || BadVersionReq(source.to_string());
        let mut terms = Vec::new();
        for term in source.split(',') {
            let term = term.trim();
            let (op, rest) = [
                (">=", VersionOp::Ge),
                ("<=", VersionOp::Le),
                ("==", VersionOp::Eq),
                ("!=", VersionOp::Ne),
                (">", VersionOp::Gt),
                ("<", VersionOp::Lt),
                ("=", VersionOp::Eq),
            ]
            .iter()
            .find_map(|(prefix, op)| term.strip_prefix(prefix).map(|rest| (*op, rest)))
            .unwrap_or((VersionOp::Eq, term));
            let digits = rest.trim().trim_start_matches(['v', 'V']);
            // Only plain dotted numbers: `>=570abc` is a typo, not 570.
            if digits.is_empty() || digits.split('.').any(|p| p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit())) {
                return Err(bad());
            }
            let version = Version::parse(digits).ok_or_else(bad)?;
            terms.push((op, version));
        }
        if terms.is_empty() {
            return Err(bad());
        }
        Ok(VersionReq { source: source.to_string(), terms })
    }

    pub fn matches(&self, version: &Version) -> bool {
        self.terms.iter().all(|(op, wanted)| {
            let ord = version.cmp_numeric(wanted);
            match op {
                VersionOp::Eq => ord.is_eq(),
                VersionOp::Ne => ord.is_ne(),
                VersionOp::Lt => ord.is_lt(),
                VersionOp::Le => ord.is_le(),
                VersionOp::Gt => ord.is_gt(),
                VersionOp::Ge => ord.is_ge(),
            }
        })
    }
}

impl fmt::Display for VersionReq {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let terms: Vec<String> = self.terms.iter().map(|(op, v)| format!("{} {v}", op.symbol())).collect();
        write!(f, "{}", terms.join(" and "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn holds(req: &str, version: &str) -> bool {
        VersionReq::parse(req).unwrap().matches(&Version::parse(version).unwrap())
    }

    #[test]
    fn nvidia_and_cuda_versions() {
        assert!(holds(">=570", "575.57.08"));
        assert!(!holds(">=570", "550.120"));
        assert!(holds(">=12.8", "12.8"));
        assert!(holds(">=12.8", "13.0"));
        assert!(holds(">=12.8", "12.10")); // 12.10 > 12.8 numerically
        assert!(holds(">=12.0, <13", "12.4"));
        assert!(!holds(">=12.0, <13", "13.0"));
        assert!(holds("==12.8", "12.8.0"));
        assert!(holds("575.57.08", "575.57.8"));
        assert!(holds(">7.0", "12.0"));
    }

    #[test]
    fn bad_requirements() {
        for bad in ["", ">=", "latest", ">=570abc", ">=1.2,"] {
            assert!(VersionReq::parse(bad).is_err(), "{bad} should be refused");
        }
    }

    #[test]
    fn parses_leading_numbers() {
        assert_eq!(Version::parse("575.57.08").unwrap().0, vec![575, 57, 8]);
        assert_eq!(Version::parse("v1.2-rc1").unwrap().0, vec![1, 2]);
        assert!(Version::parse("N/A").is_none());
    }
}
