//! The site (DESIGN §8): Markdown to HTML, templates, assets, and the pages built from the KB
//! and its archives. One rendering path serves both the static build and the live server.

/// A template context whose values are any `Serialize` (safe strings stay safe).
#[macro_export]
macro_rules! ctx {
    ($($key:ident => $value:expr),* $(,)?) => {
        minijinja::context! { $($key => minijinja::Value::from(minijinja::value::Serde(&$value))),* }
    };
}

pub(crate) mod assets;
pub(crate) mod error;
pub(crate) mod markdown;
pub(crate) mod nav;
pub(crate) mod pages;
pub(crate) mod sanitize;
pub(crate) mod search_index;
pub(crate) mod sections;
pub(crate) mod site;
pub(crate) mod templates;
pub(crate) mod url;
pub(crate) mod views;
pub(crate) mod writer;

pub(crate) use error::RenderError;
pub(crate) use pages::{Page, Resolution};
pub(crate) use site::{Mode, Site};
