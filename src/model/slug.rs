//! Heading anchors and identifier rules shared by the parser, the linter and the site.

/// GitHub-style heading anchor: lowercase, keep letters (with their combining marks), digits,
/// `-` and `_`, turn spaces into `-`, drop everything else. Links written for a forge therefore
/// work here too.
pub(crate) fn heading_anchor(text: &str) -> String {
    let mut anchor = String::with_capacity(text.len());
    for c in text.trim().chars() {
        if c.is_alphanumeric() || c == '-' || c == '_' || is_combining_mark(c) {
            anchor.extend(c.to_lowercase());
        } else if c == ' ' {
            anchor.push('-');
        }
    }
    anchor
}

/// Combining marks GitHub keeps in anchors (`वर्कफ़्लो` keeps its vowel signs and nukta): the
/// combining blocks, and the marks of the Indic and Thai scripts (not their punctuation).
fn is_combining_mark(c: char) -> bool {
    matches!(
        c as u32,
        0x0300..=0x036F
            | 0x0483..=0x0489
            | 0x0591..=0x05BD
            | 0x0610..=0x061A
            | 0x064B..=0x065F
            | 0x0900..=0x0963
            | 0x0966..=0x0DFF
            | 0x0E31
            | 0x0E34..=0x0E3A
            | 0x0E47..=0x0E4E
            | 0x1AB0..=0x1AFF
            | 0x1DC0..=0x1DFF
            | 0x20D0..=0x20FF
            | 0xFE20..=0xFE2F
    )
}

/// Makes anchors unique within one page the way GitHub does: the second `setup` is `setup-1`.
#[derive(Debug, Default)]
pub(crate) struct AnchorSet {
    seen: std::collections::HashMap<String, usize>,
}

impl AnchorSet {
    pub(crate) fn unique(&mut self, anchor: String) -> String {
        match self.seen.get_mut(&anchor) {
            None => {
                self.seen.insert(anchor.clone(), 0);
                anchor
            }
            Some(count) => {
                *count += 1;
                let unique = format!("{anchor}-{count}");
                self.seen.insert(unique.clone(), 0);
                unique
            }
        }
    }
}

/// The rule [`is_valid_id`] keeps, in words, for hints.
pub(crate) const ID_RULES: &str = "ids use letters, digits, `.`, `_` and `-`, starting with a letter or digit";

/// A runbook or step id: starts with a letter or digit, then letters, digits, `.`, `_`, `-`.
/// Ids end up in URLs, archive folder names and templates, so nothing else is allowed.
pub(crate) fn is_valid_id(id: &str) -> bool {
    let mut chars = id.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

/// A variable or capture name usable in templates as `{{ name }}`.
pub(crate) fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anchors_follow_github() {
        assert_eq!(heading_anchor("Compute capability & VRAM"), "compute-capability--vram");
        assert_eq!(heading_anchor("  CUDA_ERROR_OPERATING_SYSTEM (304) "), "cuda_error_operating_system-304");
        assert_eq!(heading_anchor("Über `nvidia-smi`"), "über-nvidia-smi");
        // Combining marks stay (found in a Hindi README of a real docs folder).
        assert_eq!(heading_anchor("वर्कफ़्लो"), "वर्कफ़्लो");
        assert_eq!(heading_anchor("Cafe\u{301} — menu"), "cafe\u{301}--menu");
        assert_eq!(heading_anchor("हिंदी। अंत"), "हिंदी-अंत", "the danda is punctuation");
    }

    #[test]
    fn duplicate_anchors_get_suffixes() {
        let mut set = AnchorSet::default();
        assert_eq!(set.unique("setup".into()), "setup");
        assert_eq!(set.unique("setup".into()), "setup-1");
        assert_eq!(set.unique("setup".into()), "setup-2");
        assert_eq!(set.unique("setup-1".into()), "setup-1-1");
    }

    #[test]
    fn ids_and_identifiers() {
        assert!(is_valid_id("cuda-304"));
        assert!(is_valid_id("v1.2_x"));
        assert!(!is_valid_id("-x"));
        assert!(!is_valid_id("a b"));
        assert!(!is_valid_id("a/b"));
        assert!(is_identifier("ollama_url"));
        assert!(!is_identifier("ollama-url"));
        assert!(!is_identifier("1x"));
    }
}
