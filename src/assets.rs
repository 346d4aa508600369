//! Files embedded in the binary: `templates/` (minijinja) and later `site/` assets. A KB's own
//! `templates/NAME` overrides the embedded file of the same name.

use std::borrow::Cow;
use std::path::Path;

#[derive(rust_embed::RustEmbed)]
#[folder = "templates/"]
struct Templates;

/// The template `name`: the KB's override when it has one, else the embedded default.
pub fn template(kb_root: Option<&Path>, name: &str) -> Option<Cow<'static, str>> {
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
