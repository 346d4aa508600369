//! A runbook's headings as the KB keeps them for as long as it is loaded: compact, because a
//! served KB holds every runbook's (about eight each in a docs folder, three quarters of a million
//! at 100,000 runbooks). As a list of [`Heading`]s each heading was three allocations and 72
//! bytes; here a runbook's headings are two allocations in all: every text and anchor back to back
//! in one string, and a fixed-size entry per heading. They read and write as that list, so the
//! parse cache's shape does not change.

use super::markdown::Heading;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// One heading of [`Headings`], borrowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeadingRef<'a> {
    pub level: u8,
    pub text: &'a str,
    pub anchor: &'a str,
    pub line: usize,
    pub offset: usize,
}

/// Where one heading's text and anchor end in [`Headings::text`], and where it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Entry {
    level: u8,
    text_end: u32,
    anchor_end: u32,
    line: u32,
    offset: u32,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Headings {
    /// Each heading's text, then its anchor, in order.
    text: Box<str>,
    entries: Box<[Entry]>,
}

/// A position as an entry keeps it: only a Markdown file past 4 GiB could exceed it, and there
/// the heading would name the last position an entry can hold rather than wrap around.
fn narrow(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

impl Headings {
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn iter(&self) -> impl ExactSizeIterator<Item = HeadingRef<'_>> + '_ {
        let mut start = 0;
        self.entries.iter().map(move |entry| {
            let heading = self.heading(start, entry);
            start = entry.anchor_end;
            heading
        })
    }

    /// The heading of `entry`, whose text begins at `start`. The ends are those `from_iter`
    /// wrote, so the slices hold; were they ever wrong, the heading would read empty, not panic.
    fn heading(&self, start: u32, entry: &Entry) -> HeadingRef<'_> {
        let slice = |from: u32, to: u32| self.text.get(from as usize..to as usize).unwrap_or_default();
        HeadingRef {
            level: entry.level,
            text: slice(start, entry.text_end),
            anchor: slice(entry.text_end, entry.anchor_end),
            line: entry.line as usize,
            offset: entry.offset as usize,
        }
    }
}

impl<'a> FromIterator<&'a Heading> for Headings {
    fn from_iter<I: IntoIterator<Item = &'a Heading>>(headings: I) -> Headings {
        let mut text = String::new();
        let mut entries = Vec::new();
        for heading in headings {
            text.push_str(&heading.text);
            let text_end = narrow(text.len());
            text.push_str(&heading.anchor);
            entries.push(Entry {
                level: heading.level,
                text_end,
                anchor_end: narrow(text.len()),
                line: narrow(heading.line),
                offset: narrow(heading.offset),
            });
        }
        Headings { text: text.into_boxed_str(), entries: entries.into_boxed_slice() }
    }
}

impl From<HeadingRef<'_>> for Heading {
    fn from(heading: HeadingRef<'_>) -> Heading {
        Heading {
            level: heading.level,
            text: heading.text.to_string(),
            anchor: heading.anchor.to_string(),
            line: heading.line,
            offset: heading.offset,
        }
    }
}

/// The same fields as [`Heading`], borrowed, for writing.
#[derive(Serialize)]
struct HeadingOut<'a> {
    level: u8,
    text: &'a str,
    anchor: &'a str,
    line: usize,
    offset: usize,
}

impl Serialize for Headings {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.iter().map(|h| HeadingOut {
            level: h.level,
            text: h.text,
            anchor: h.anchor,
            line: h.line,
            offset: h.offset,
        }))
    }
}

impl<'de> Deserialize<'de> for Headings {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Headings, D::Error> {
        let headings = Vec::<Heading>::deserialize(deserializer)?;
        Ok(headings.iter().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn heading(level: u8, text: &str, anchor: &str, line: usize) -> Heading {
        Heading { level, text: text.to_string(), anchor: anchor.to_string(), line, offset: line * 10 }
    }

    fn sample() -> Vec<Heading> {
        vec![
            heading(1, "Disk full", "disk-full", 1),
            heading(2, "", "section", 4),
            heading(2, "Prüfen: `df -h`", "prüfen-df--h", 9),
            heading(3, "Check", "", 12),
        ]
    }

    #[test]
    fn each_heading_reads_back_as_it_was_given() {
        let given = sample();
        let headings: Headings = given.iter().collect();
        assert_eq!(headings.len(), 4);
        let back: Vec<Heading> = headings.iter().map(Heading::from).collect();
        assert_eq!(format!("{back:?}"), format!("{given:?}"));
        assert!(Headings::default().is_empty());
    }

    #[test]
    fn they_are_written_and_read_as_the_list_of_headings_they_were() {
        let given = sample();
        let headings: Headings = given.iter().collect();
        let json = serde_json::to_string(&headings).expect("write");
        assert_eq!(json, serde_json::to_string(&given).expect("write the list"));
        let read: Headings = serde_json::from_str(&json).expect("read");
        assert_eq!(read, headings);
    }
}
