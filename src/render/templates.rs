//! The minijinja environment of the site: templates from `templates/` (embedded; a KB's own
//! `templates/` overrides per file), HTML auto-escaping, strict undefined values, and the
//! `asset(name)` function that returns an asset's fingerprinted URL.

use super::assets::Assets;
use super::error::RenderError;
use super::url::Urls;
use minijinja::{Environment, UndefinedBehavior, Value};
use serde::Serialize;
use std::path::PathBuf;
use std::sync::Arc;

pub struct Templates {
    env: Environment<'static>,
}

impl Templates {
    /// An environment whose `asset()` is not yet available (for the shared nav, which is itself
    /// an asset); call [`Templates::finish`] before rendering pages.
    pub fn new(kb_root: Option<PathBuf>) -> Templates {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.set_loader(move |name| Ok(crate::assets::template(kb_root.as_deref(), name).map(|t| t.into_owned())));
        Templates { env }
    }

    /// Adds `asset(name)` and the `site` global every page template reads.
    pub fn finish(&mut self, assets: Arc<Assets>, urls: &Urls, site: impl Serialize) {
        let base = urls.clone();
        self.env.add_function("asset", move |name: &str| -> Result<String, minijinja::Error> {
            match assets.get(name) {
                Some(asset) => Ok(base.file(&asset.path)),
                None => Err(minijinja::Error::new(
                    minijinja::ErrorKind::InvalidOperation,
                    format!("no asset `{name}` in site/"),
                )),
            }
        });
        self.env.add_global("site", Value::from(minijinja::value::Serde(site)));
    }

    pub fn render(&self, name: &str, context: minijinja::Value) -> Result<String, RenderError> {
        let template = self.env.get_template(name)?;
        Ok(template.render(context)?)
    }
}
