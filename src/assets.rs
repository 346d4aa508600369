//! Files embedded in the binary: `templates/` (minijinja) and `site/` (CSS, JavaScript, icons).
//! A KB's own `templates/NAME` or `site/NAME` overrides the embedded file of the same name.

use std::borrow::Cow;
use std::path::Path;

#[derive(rust_embed::RustEmbed)]
#[folder = "templates/"]
struct Templates;

#[derive(rust_embed::RustEmbed)]
#[folder = "site/"]
struct SiteFiles;

/// The template `name`: the KB's override when it has one, else the embedded default.
pub(crate) fn template(kb_root: Option<&Path>, name: &str) -> Option<Cow<'static, str>> {
    if let Some(root) = kb_root
        && let Ok(text) = std::fs::read_to_string(root.join("templates").join(name))
    {
        return Some(Cow::Owned(text));
    }
    let file = Templates::get(name)?;
    match file.data {
        Cow::Borrowed(bytes) => std::str::from_utf8(bytes).ok().map(Cow::Borrowed),
        Cow::Owned(bytes) => String::from_utf8(bytes).ok().map(Cow::Owned),
    }
}

/// Names of the embedded site assets, sorted.
pub(crate) fn site_file_names() -> Vec<String> {
    let mut names: Vec<String> = SiteFiles::iter().map(|n| n.into_owned()).collect();
    names.sort();
    names
}

/// The site asset `name`: the KB's `site/NAME` when it has one, else the embedded default.
pub(crate) fn site_file(kb_root: Option<&Path>, name: &str) -> Option<Cow<'static, [u8]>> {
    if let Some(root) = kb_root
        && let Ok(bytes) = std::fs::read(root.join("site").join(name))
    {
        return Some(Cow::Owned(bytes));
    }
    SiteFiles::get(name).map(|file| file.data)
}
