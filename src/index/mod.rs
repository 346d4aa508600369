//! Full-text search over the knowledge base: a tantivy index in the KB state folder, kept fresh
//! before every read (DESIGN §7).

pub mod hit;

pub use hit::{Hit, Kind, SearchRequest, SearchResults};
