//! The index schema. Bump [`SCHEMA_VERSION`] whenever fields or analyzers change: an index built
//! with another version is rebuilt, never misread.

use super::tokenizer;
use tantivy::schema::{
    Field, IndexRecordOption, NumericOptions, STORED, STRING, Schema, TextFieldIndexing, TextOptions,
};

/// 5: a fleet run's archive document holds its hosts (names, outcomes, reasons).
pub const SCHEMA_VERSION: u32 = 5;

/// Every field, by handle.
#[derive(Debug, Clone, Copy)]
pub struct Fields {
    /// `runbook`, `archive` or `cycle`.
    pub kind: Field,
    /// Runbook id, run id or cycle name.
    pub id: Field,
    /// What to delete when the source changes: `rb:<path>`, `run:<id>`, `cycle:<name>`.
    pub key: Field,
    pub path: Field,
    pub line: Field,
    /// Errors in the runbook's file (front matter, steps): its hits are marked with them.
    pub errors: Field,
    pub anchor: Field,
    /// The title as shown (the searched `title` also holds aliases).
    pub display: Field,
    pub title: Field,
    pub heading: Field,
    pub body: Field,
    pub code: Field,
    /// Tags as words (searchable, boosted).
    pub tags: Field,
    /// Tags as exact lowercase terms (the `--tag` filter).
    pub tag: Field,
    pub category: Field,
    pub severity: Field,
    /// Every word unstemmed, for "did you mean".
    pub vocab: Field,
    /// The names of a runbook as exact lowercase terms: file stem, id, aliases, and the title
    /// without spaces (`kubejobfailed`): a query that spells a name puts its page first.
    pub name: Field,
}

pub fn build() -> (Schema, Fields) {
    let text = |stored: bool| {
        let indexing = TextFieldIndexing::default()
            .set_tokenizer(tokenizer::INDEX)
            .set_index_option(IndexRecordOption::WithFreqsAndPositions);
        let options = TextOptions::default().set_indexing_options(indexing);
        if stored { options.set_stored() } else { options }
    };
    let mut builder = Schema::builder();
    let fields = Fields {
        kind: builder.add_text_field("kind", STRING | STORED),
        id: builder.add_text_field("id", STRING | STORED),
        key: builder.add_text_field("key", STRING),
        path: builder.add_text_field("path", STORED),
        line: builder.add_u64_field("line", NumericOptions::default().set_stored()),
        errors: builder.add_u64_field("errors", NumericOptions::default().set_stored()),
        anchor: builder.add_text_field("anchor", STORED),
        display: builder.add_text_field("display", STORED),
        title: builder.add_text_field("title", text(false)),
        heading: builder.add_text_field("heading", text(true)),
        body: builder.add_text_field("body", text(true)),
        code: builder.add_text_field("code", text(true)),
        tags: builder.add_text_field("tags", text(false)),
        tag: builder.add_text_field("tag", STRING),
        category: builder.add_text_field("category", STRING),
        severity: builder.add_text_field("severity", STRING),
        vocab: builder.add_text_field(
            "vocab",
            TextOptions::default().set_indexing_options(
                TextFieldIndexing::default().set_tokenizer(tokenizer::PLAIN).set_index_option(IndexRecordOption::Basic),
            ),
        ),
        name: builder.add_text_field("name", STRING),
    };
    (builder.build(), fields)
}

impl Fields {
    /// The searched text fields with their boosts (DESIGN §7: title > tags/heading > code > body).
    pub fn weighted(&self) -> [(Field, f32); 5] {
        [(self.title, 3.0), (self.tags, 2.0), (self.heading, 2.0), (self.code, 1.5), (self.body, 1.0)]
    }
}
