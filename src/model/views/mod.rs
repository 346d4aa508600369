//! View types: the model as the CLI's JSON and the site's API show it, shared so both say the
//! same thing in the same shape.

mod list_row;
mod plain;
mod runbook;

pub(crate) use list_row::ListRow;
pub(crate) use plain::PlainView;
pub(crate) use runbook::RunbookView;
