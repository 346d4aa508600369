//! Raw HTML in Markdown goes through ammonia: what a browser could run is removed, the tags and
//! attributes Markdown itself produces are kept. Link targets of Markdown links are checked here
//! too, since pulldown-cmark writes `javascript:` URLs as they are.

use std::collections::HashSet;
use std::sync::OnceLock;

/// Classes the renderer itself puts on elements; any other class in raw HTML is dropped.
const OWN_CLASSES: [&str; 6] =
    ["anchor", "footnote-reference", "footnote-definition", "footnote-definition-label", "figure", "figure-caption"];

/// URL schemes a link or image may use; anything else (`javascript:`, `data:`, `vbscript:`) is
/// replaced by `#`.
const SAFE_SCHEMES: [&str; 7] = ["http", "https", "mailto", "tel", "ftp", "sftp", "ssh"];

fn cleaner() -> &'static ammonia::Builder<'static> {
    static CLEANER: OnceLock<ammonia::Builder<'static>> = OnceLock::new();
    CLEANER.get_or_init(|| {
        let mut builder = ammonia::Builder::default();
        builder
            .add_tags(["input"])
            .add_generic_attributes(["id", "class"])
            .add_tag_attributes("a", ["name"])
            .add_tag_attributes("input", ["type", "checked", "disabled"])
            .add_tag_attributes("th", ["style"])
            .add_tag_attributes("td", ["style"])
            .url_schemes(HashSet::from(SAFE_SCHEMES))
            .attribute_filter(|element, attribute, value| match (element, attribute) {
                (_, "class") => {
                    let kept: Vec<&str> = value
                        .split_whitespace()
                        .filter(|c| {
                            OWN_CLASSES.contains(c) || c.starts_with("language-") || c.starts_with("admonition")
                        })
                        .collect();
                    (!kept.is_empty()).then(|| kept.join(" ").into())
                }
                (_, "style") => {
                    let align = value.trim().trim_end_matches(';').replace(' ', "");
                    matches!(align.as_str(), "text-align:left" | "text-align:center" | "text-align:right")
                        .then(|| value.into())
                }
                ("input", "type") => (value == "checkbox").then(|| value.into()),
                _ => Some(value.into()),
            });
        builder
    })
}

/// Cleans a fragment of HTML.
pub(crate) fn clean(html: &str) -> String {
    cleaner().clean(html).to_string()
}

/// Whether a link or image target is harmless: relative, or one of [`SAFE_SCHEMES`]. Browsers
/// ignore whitespace and control characters inside a scheme, so they are ignored here too.
pub(crate) fn is_safe_url(dest: &str) -> bool {
    let cleaned: String = dest.chars().filter(|c| !c.is_whitespace() && !c.is_control()).collect();
    match cleaned.find([':', '/', '?', '#']) {
        Some(i) if cleaned[i..].starts_with(':') => {
            let scheme = cleaned[..i].to_ascii_lowercase();
            SAFE_SCHEMES.contains(&scheme.as_str())
        }
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripts_and_handlers_go() {
        let out = clean("<p onclick=\"x()\">hi<script>alert(1)</script><img src=x onerror=alert(1)></p>");
        assert!(!out.contains("script") && !out.contains("onclick") && !out.contains("onerror"), "{out}");
        let out =
            clean("<a href=\"javascript:alert(1)\">x</a><span class=\"evil anchor\" style=\"color:red\">y</span>");
        assert!(!out.contains("javascript") && !out.contains("evil") && !out.contains("color"), "{out}");
        assert!(out.contains("class=\"anchor\""), "{out}");
    }

    #[test]
    fn markdown_output_survives() {
        let html = "<h2 id=\"a\">A <a class=\"anchor\" href=\"#a\">#</a></h2><table><tr><th style=\"text-align: center\">x</th></tr></table><ul><li><input disabled=\"\" type=\"checkbox\" checked=\"\"/> done</li></ul><pre><code class=\"language-sh\">ls</code></pre>";
        let out = clean(html);
        for kept in ["id=\"a\"", "href=\"#a\"", "text-align: center", "type=\"checkbox\"", "language-sh"] {
            assert!(out.contains(kept), "{kept} missing in {out}");
        }
    }

    #[test]
    fn url_schemes() {
        assert!(is_safe_url("other.md#x"));
        assert!(is_safe_url("https://example.invalid/a:b"));
        assert!(is_safe_url("/abs/path"));
        assert!(is_safe_url("a/b:c"));
        assert!(!is_safe_url("javascript:alert(1)"));
        assert!(!is_safe_url(" JaVa\tScRiPt:alert(1)"));
        assert!(!is_safe_url("data:text/html,<script>"));
    }
}
