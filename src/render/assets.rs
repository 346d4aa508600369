//! The site's static files with fingerprinted names (`assets/style.3f2a9c01b2.css`), so pages
//! can let browsers cache them forever. Built once per site, from the embedded `site/` folder
//! (a KB's own `site/` overrides per file) plus generated files such as the shared nav.

use crate::util::text::hex;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

/// One file of the site that is not a page.
#[derive(Debug, Clone)]
pub(crate) struct Asset {
    /// Path relative to the site root (`assets/app.1a2b3c4d5e.js`).
    pub path: String,
    pub bytes: Arc<[u8]>,
    pub content_type: &'static str,
}

/// Every asset, by its logical name (`app.js`).
#[derive(Debug, Clone, Default)]
pub(crate) struct Assets {
    by_name: BTreeMap<String, Asset>,
}

impl Assets {
    /// The embedded assets, with the KB's overrides.
    pub(crate) fn load(kb_root: Option<&Path>) -> Assets {
        let mut assets = Assets::default();
        for name in crate::assets::site_file_names() {
            if let Some(bytes) = crate::assets::site_file(kb_root, &name) {
                assets.add(&name, bytes.into_owned());
            }
        }
        assets
    }

    /// Adds a file under a fingerprinted name; returns its site-relative path.
    pub(crate) fn add(&mut self, name: &str, bytes: Vec<u8>) -> String {
        let hash = Sha256::digest(&bytes);
        let fingerprint = hex(&hash[..5]);
        let path = match name.rsplit_once('.') {
            Some((stem, ext)) => format!("assets/{stem}.{fingerprint}.{ext}"),
            None => format!("assets/{name}.{fingerprint}"),
        };
        let asset = Asset { path: path.clone(), bytes: bytes.into(), content_type: content_type(name) };
        self.by_name.insert(name.to_string(), asset);
        path
    }

    pub(crate) fn get(&self, name: &str) -> Option<&Asset> {
        self.by_name.get(name)
    }

    /// The asset at a site-relative path (`assets/app.1a2b3c4d5e.js`).
    pub(crate) fn by_path(&self, path: &str) -> Option<&Asset> {
        self.by_name.values().find(|a| a.path == path)
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = &Asset> {
        self.by_name.values()
    }
}

/// The `Content-Type` of a file, by extension.
pub(crate) fn content_type(name: &str) -> &'static str {
    match name.rsplit_once('.').map(|(_, ext)| ext.to_ascii_lowercase()).as_deref() {
        Some("css") => "text/css; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("json") => "application/json",
        Some("html") => "text/html; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("ico") => "image/x-icon",
        Some("woff2") => "font/woff2",
        Some("txt") => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}
