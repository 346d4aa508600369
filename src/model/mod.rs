//! The runbook model: types, parsing, discovery of a knowledge base, and cross-references.

pub mod alerting;
pub mod cache;
pub mod config;
pub mod diagnostic;
pub mod discovery;
pub mod duration;
pub mod front_matter;
pub mod kb;
pub mod markdown;
pub mod matcher;
pub mod parse;
pub mod probe;
pub mod quantity;
pub mod runbook;
pub mod slug;
pub mod state;
pub mod step;
pub mod suggest;
pub mod template;
pub mod version;
pub mod views;

pub use diagnostic::{Diagnostic, Level};
pub use kb::{Kb, KbSource, Lookup};
pub use runbook::{Body, Runbook};
pub use step::{Action, Severity, Step};
pub use views::ListRow;
