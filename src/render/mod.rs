//! The site (DESIGN §8): Markdown to HTML, templates, assets, and the pages built from the KB
//! and its archives. One rendering path serves both the static build and the live server.

/// A template context whose values are any `Serialize` (safe strings stay safe).
#[macro_export]
macro_rules! ctx {
    ($($key:ident => $value:expr),* $(,)?) => {
        minijinja::context! { $($key => minijinja::Value::from(minijinja::value::Serde(&$value))),* }
    };
}

pub mod assets;
pub mod error;
pub mod markdown;
pub mod nav;
pub mod pages;
pub mod sanitize;
pub mod search_index;
pub mod sections;
pub mod site;
pub mod templates;
pub mod url;
pub mod views;
pub mod writer;

pub use error::RenderError;
pub use pages::{Page, RenderedPage, Resolution};
pub use site::{Mode, Site};
