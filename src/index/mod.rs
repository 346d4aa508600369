//! Full-text search over the knowledge base: a tantivy index in the KB state folder, kept fresh
//! before every read (DESIGN §7).

pub mod directory;
pub mod documents;
pub mod hit;
pub mod query;
pub mod schema;
pub mod snippet;
pub mod store;
pub mod tokenizer;

pub use hit::{Hit, Kind, MoreSection, SearchRequest, SearchResults};
pub use store::{IndexError, SearchIndex, SyncReport};
