//! The runbook model: types, parsing, discovery of a knowledge base, and cross-references.

pub mod alerting;
pub mod cache;
pub mod changes;
pub mod config;
pub mod diagnostic;
pub mod discovery;
pub mod docs_syntax;
pub mod duration;
pub mod front_matter;
pub mod hosts;
pub mod hugo;
pub mod inventory;
pub mod kb;
pub mod links;
pub mod markdown;
pub mod matcher;
pub mod outline;
pub mod parse;
pub mod plain;
pub mod probe;
pub mod quantity;
pub mod runbook;
pub mod slug;
pub mod state;
pub mod step;
pub mod template;
pub mod version;
pub mod views;
pub mod yaml;

pub use diagnostic::{Diagnostic, Level, Rule};
pub use kb::{Backlink, Kb, KbSource, Lookup};
pub use runbook::{Body, Runbook, RunbookIdx};
pub use step::{Action, Severity, Step};
pub use views::ListRow;
