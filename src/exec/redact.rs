//! Secret values never reach the terminal, logs or archives: every text the engine emits goes
//! through a [`Redactor`] first.

use std::borrow::Cow;

/// What a secret value is replaced with.
pub(crate) const MASK: &str = "****";

#[derive(Debug, Clone, Default)]
pub(crate) struct Redactor {
    /// Secret values, longest first so a secret containing another is masked whole.
    secrets: Vec<String>,
}

impl Redactor {
    /// Builds a redactor from secret values (empty values are ignored).
    pub(crate) fn new(values: impl IntoIterator<Item = String>) -> Redactor {
        let mut secrets: Vec<String> = values.into_iter().filter(|v| !v.is_empty()).collect();
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        secrets.dedup();
        Redactor { secrets }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.secrets.is_empty()
    }

    pub(crate) fn redact<'a>(&self, text: &'a str) -> Cow<'a, str> {
        if self.secrets.iter().all(|s| !text.contains(s.as_str())) {
            return Cow::Borrowed(text);
        }
        let mut out = text.to_string();
        for secret in &self.secrets {
            if out.contains(secret.as_str()) {
                out = out.replace(secret.as_str(), MASK);
            }
        }
        Cow::Owned(out)
    }

    pub(crate) fn redact_bytes<'a>(&self, bytes: &'a [u8]) -> Cow<'a, [u8]> {
        let mut out: Cow<'a, [u8]> = Cow::Borrowed(bytes);
        for secret in &self.secrets {
            let needle = secret.as_bytes();
            if find(&out, needle).is_none() {
                continue;
            }
            let mut replaced = Vec::with_capacity(out.len());
            let mut rest: &[u8] = &out;
            while let Some(at) = find(rest, needle) {
                replaced.extend_from_slice(&rest[..at]);
                replaced.extend_from_slice(MASK.as_bytes());
                rest = &rest[at + needle.len()..];
            }
            replaced.extend_from_slice(rest);
            out = Cow::Owned(replaced);
        }
        out
    }

    /// Where to cut a long chunk of output so that no secret straddles the cut: `len`, or
    /// earlier when the chunk ends with the beginning of a secret.
    pub(crate) fn safe_cut(&self, chunk: &[u8]) -> usize {
        let mut cut = chunk.len();
        for secret in &self.secrets {
            let secret = secret.as_bytes();
            for keep in (1..secret.len().min(cut + 1)).rev() {
                if chunk[..cut].ends_with(&secret[..keep]) {
                    cut -= keep;
                    break;
                }
            }
        }
        cut
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || needle.len() > haystack.len() {
        return None;
    }
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_every_occurrence() {
        let r = Redactor::new(["hunter2".to_string(), String::new()]);
        assert_eq!(r.redact("token=hunter2 again hunter2"), "token=**** again ****");
        assert!(matches!(r.redact("clean"), Cow::Borrowed(_)));
        assert_eq!(&*r.redact_bytes(b"x hunter2 y"), b"x **** y");
    }

    #[test]
    fn longest_secret_first() {
        let r = Redactor::new(["abc".to_string(), "abcdef".to_string()]);
        assert_eq!(r.redact("abcdef abc"), "**** ****");
    }

    #[test]
    fn cuts_before_a_partial_secret() {
        let r = Redactor::new(["secret".to_string()]);
        assert_eq!(r.safe_cut(b"aaaasec"), 4);
        assert_eq!(r.safe_cut(b"aaaaaaa"), 7);
        assert_eq!(r.safe_cut(b"secret"), 6);
    }
}
