//! Page URLs: one place decides where every page lives, for links and for the files the static
//! build writes. URLs are absolute paths under the site's base path (`/` unless `runbook.toml`
//! sets a `base_url` with a path).

/// Builds page URLs under a base path.
#[derive(Debug, Clone)]
pub(crate) struct Urls {
    /// Starts and ends with `/`.
    base: String,
}

impl Urls {
    /// `base_url` from `runbook.toml` (`https://ops.example/kb/`), or `None` for `/`.
    pub(crate) fn new(base_url: Option<&str>) -> Urls {
        let path = base_url.map(base_path).unwrap_or_default();
        let trimmed = path.trim_matches('/');
        let base = if trimmed.is_empty() {
            "/".to_string()
        } else {
            let segments: Vec<String> = trimmed.split('/').map(encode_segment).collect();
            format!("/{}/", segments.join("/"))
        };
        Urls { base }
    }

    pub(crate) fn base(&self) -> &str {
        &self.base
    }

    /// `/runbooks/<id>/`; an id in path form (`node/_index`) keeps its slashes.
    pub(crate) fn runbook(&self, id: &str) -> String {
        format!("{}runbooks/{}/", self.base, encode_path(id))
    }

    /// Tags are grouped case-insensitively: `GPU` and `gpu` are one page.
    pub(crate) fn tag(&self, tag: &str) -> String {
        format!("{}tags/{}/", self.base, encode_segment(&tag.to_lowercase()))
    }

    pub(crate) fn run(&self, run_id: &str) -> String {
        format!("{}archives/{}/", self.base, encode_segment(run_id))
    }

    /// The runs, a page at a time: `/archives/` is the newest, `/archives/page/2/` the next.
    pub(crate) fn runs_page(&self, page: usize) -> String {
        match page {
            0 | 1 => format!("{}archives/", self.base),
            n => format!("{}archives/page/{n}/", self.base),
        }
    }

    pub(crate) fn cycle(&self, name: &str) -> String {
        format!("{}cycles/{}/", self.base, encode_segment(name))
    }

    /// A file of the site's own (`assets/style.1a2b3c4d.css`, `search/meta.json`).
    pub(crate) fn file(&self, relative: &str) -> String {
        format!("{}{}", self.base, relative)
    }

    /// The site-relative path of a page URL (`/kb/runbooks/x/` → `runbooks/x/`), percent-decoded,
    /// or `None` when it is outside the base or would climb out of the site.
    pub(crate) fn relative(&self, url: &str) -> Option<String> {
        let rest = match url.strip_prefix(self.base.as_str()) {
            Some(rest) => rest,
            None if format!("{url}/") == self.base => "",
            None => return None,
        };
        let mut segments = Vec::new();
        for segment in rest.split('/') {
            let decoded = percent_decode(segment)?;
            if decoded == "." || decoded == ".." || decoded.contains(['/', '\\', '\0']) {
                return None;
            }
            segments.push(decoded);
        }
        Some(segments.join("/"))
    }
}

/// The path part of a base URL (`https://host/kb/` → `/kb/`, `/kb` → `/kb`).
fn base_path(base_url: &str) -> String {
    match base_url.split_once("://") {
        Some((_, rest)) => rest.find('/').map(|i| rest[i..].to_string()).unwrap_or_default(),
        None => base_url.to_string(),
    }
}

/// Percent-encodes each `/`-separated segment of an id.
pub(crate) fn encode_path(path: &str) -> String {
    path.split('/').map(encode_segment).collect::<Vec<_>>().join("/")
}

/// Percent-encodes everything but RFC 3986 unreserved characters; `.` and `..` are encoded whole
/// so that no segment can mean "this folder" or "the parent folder".
pub(crate) fn encode_segment(segment: &str) -> String {
    if segment == "." || segment == ".." {
        return segment.replace('.', "%2E");
    }
    let mut out = String::with_capacity(segment.len());
    for byte in segment.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// Decodes `%XX` escapes (invalid ones stay as written); `None` when the result is not UTF-8.
pub(crate) fn percent_decode(text: &str) -> Option<String> {
    percent_encoding::percent_decode_str(text).decode_utf8().ok().map(|text| text.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_under_a_base() {
        let urls = Urls::new(None);
        assert_eq!(urls.runbook("cuda-304"), "/runbooks/cuda-304/");
        assert_eq!(urls.runbook("node/_index"), "/runbooks/node/_index/");
        assert_eq!(urls.runbook("my notes"), "/runbooks/my%20notes/");
        assert_eq!(urls.tag("GPU"), "/tags/gpu/");
        let urls = Urls::new(Some("https://ops.example/kb/"));
        assert_eq!(urls.base(), "/kb/");
        assert_eq!(urls.runbook("x"), "/kb/runbooks/x/");
        assert_eq!(urls.relative("/kb/runbooks/my%20notes/").as_deref(), Some("runbooks/my notes/"));
        assert_eq!(urls.relative("/other/"), None);
    }

    #[test]
    fn no_segment_climbs() {
        assert_eq!(encode_segment(".."), "%2E%2E");
        assert_eq!(encode_segment("a/b"), "a%2Fb");
        let urls = Urls::new(None);
        assert_eq!(urls.relative("/runbooks/%2E%2E/"), None);
        assert_eq!(urls.relative("/runbooks/..%2f..%2fetc/"), None);
        assert_eq!(percent_decode("%zz%4"), Some("%zz%4".into()));
        assert_eq!(percent_decode("%é1"), Some("%é1".into()));
    }
}
