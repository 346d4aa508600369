//! The minijinja environment of the site: templates from `templates/` (embedded; a KB's own
//! `templates/` overrides per file), HTML auto-escaping, strict undefined values, and the
//! `asset(name)` function that returns an asset's fingerprinted URL.

use super::assets::Assets;
use super::error::RenderError;
use super::url::Urls;
use minijinja::{AutoEscape, Environment, Output, State, UndefinedBehavior, Value};
use serde::Serialize;
use std::path::PathBuf;
use std::sync::Arc;

pub(crate) struct Templates {
    env: Environment<'static>,
}

impl Templates {
    /// An environment whose `asset()` is not yet available (for the shared nav, which is itself
    /// an asset); call [`Templates::finish`] before rendering pages.
    pub(crate) fn new(kb_root: Option<PathBuf>) -> Templates {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.set_formatter(escape_html);
        env.set_loader(move |name| Ok(crate::assets::template(kb_root.as_deref(), name).map(|t| t.into_owned())));
        Templates { env }
    }

    /// Adds `asset(name)` and the `site` global every page template reads.
    pub(crate) fn finish(&mut self, assets: Arc<Assets>, urls: &Urls, site: impl Serialize) {
        let base = urls.clone();
        self.env.add_function("asset", move |name: &str| -> Result<Value, minijinja::Error> {
            match assets.get(name) {
                Some(asset) => Ok(Value::from_safe_string(base.file(&asset.path))),
                None => Err(minijinja::Error::new(
                    minijinja::ErrorKind::InvalidOperation,
                    format!("no asset `{name}` in site/"),
                )),
            }
        });
        self.env.add_global("site", Value::from(minijinja::value::Serde(site)));
    }

    pub(crate) fn render(&self, name: &str, context: minijinja::Value) -> Result<String, RenderError> {
        let template = self.env.get_template(name)?;
        Ok(template.render(context)?)
    }
}

/// Escapes text for HTML as minijinja does, except `/`, which needs no escaping in text or in
/// quoted attributes: URLs stay readable and pages smaller. Safe strings pass through.
fn escape_html(out: &mut Output, state: &mut State, value: &Value) -> Result<(), minijinja::Error> {
    match (state.auto_escape(), value.as_str()) {
        (AutoEscape::Html, Some(text)) if !value.is_safe() => out
            .write_str(&super::markdown::escape_attr(text))
            .map_err(|_| minijinja::Error::new(minijinja::ErrorKind::WriteFailure, "cannot write the page")),
        _ => minijinja::escape_formatter(out, state, value),
    }
}
