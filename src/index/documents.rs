//! What goes into the index: one document per H1–H3 section of every runbook, one per recorded
//! run, one per cycle report.

use super::schema::Fields;
use crate::model::outline::{Outline, Section, Text};
use crate::model::{Body, Runbook};
use crate::record::RunRecord;
use tantivy::TantivyDocument;

/// One section's text, split into prose and code.
#[derive(Debug, Default, Clone)]
pub struct SectionText {
    pub heading: String,
    pub anchor: String,
    pub line: u64,
    pub body: String,
    pub code: String,
}

/// The sections of a runbook: the text before the first heading (titled like the runbook), then
/// one per H1–H3 heading with everything down to the next one.
pub fn sections(rb: &Runbook, body: &Body) -> Vec<SectionText> {
    let outline = &body.outline;
    let mut out: Vec<SectionText> = outline.sections.iter().map(|section| section_text(outline, section)).collect();
    out[0].heading = rb.title.clone();
    // A front-matter summary is searchable with the top of the page; one taken from the first
    // paragraph is already in its section.
    let summary = rb.summary.trim_end_matches('…');
    let words = |text: &str| text.split_whitespace().collect::<Vec<_>>().join(" ");
    if !summary.is_empty() && !out.iter().any(|s| words(&s.body).contains(&words(summary))) {
        // Into the text before the first heading, or the first section when there is none.
        let intro_empty = out[0].body.trim().is_empty() && out[0].code.trim().is_empty();
        let target = if intro_empty && out.len() > 1 { 1 } else { 0 };
        out[target].body = format!("{} {}", rb.summary, out[target].body);
    } else if !summary.is_empty() && out.len() > 1 && out[0].body.trim().is_empty() && is_empty(&out[1]) {
        // A page that is only its title up to the first subheading (`# KubeJobFailed` then
        // `## Meaning`): the hit for its name shows the summary, not a bare heading.
        out[1].body = rb.summary.clone();
    }
    let headed = out.len() > 1;
    out.into_iter()
        .enumerate()
        // The text before the first heading is worth a document only when it holds something.
        .filter(|(i, s)| *i > 0 || !headed || !s.body.trim().is_empty() || !s.code.trim().is_empty())
        .map(|(_, s)| s)
        .collect()
}

/// One section's prose (with the code spans) and code (code blocks and code spans), as the
/// outline has them; headings below H3 are not part of its text.
fn section_text(outline: &Outline, section: &Section) -> SectionText {
    let mut out = match outline.heading_of(section) {
        Some(h) => SectionText {
            heading: h.text.clone(),
            anchor: h.anchor.clone(),
            line: h.line as u64,
            ..SectionText::default()
        },
        None => SectionText { line: 1, ..SectionText::default() },
    };
    for piece in outline.text(section) {
        match piece {
            Text::Prose(prose) => out.body.push_str(prose),
            Text::CodeSpan(code) => {
                out.body.push_str(code);
                out.code.push_str(code);
                out.code.push(' ');
            }
            Text::Fence(fence) => {
                if fence.step {
                    out.code.push('\n');
                }
                out.code.push_str(&fence.content);
                out.code.push('\n');
            }
            Text::MinorHeading(_) | Text::BlockEnd => {}
        }
    }
    out
}

fn is_empty(section: &SectionText) -> bool {
    section.body.trim().is_empty() && section.code.trim().is_empty()
}

/// The index documents of one runbook, under its KB-wide `id`.
pub fn runbook_documents(fields: &Fields, rb: &Runbook, body: &Body, id: &str) -> Vec<TantivyDocument> {
    // The name of the file counts as a title: a page named after an alert (`KubeJobFailed.md`)
    // is found by that name even when its title is spelt otherwise.
    let stem = rb.stem_path.rsplit('/').next().unwrap_or(&rb.stem_path);
    let title = std::iter::once(rb.title.as_str())
        .chain(rb.aliases.iter().map(String::as_str))
        .chain(names(stem, id).filter(|name| !rb.title.contains(name)))
        .collect::<Vec<_>>()
        .join(" ");
    let names = name_terms(rb, stem, id);
    sections(rb, body)
        .into_iter()
        .map(|section| {
            let mut doc = TantivyDocument::default();
            doc.add_text(fields.kind, "runbook");
            doc.add_text(fields.id, id);
            doc.add_text(fields.key, runbook_key(&rb.path));
            doc.add_text(fields.path, &rb.path);
            doc.add_u64(fields.line, section.line);
            doc.add_u64(fields.errors, rb.file_errors as u64);
            doc.add_text(fields.anchor, &section.anchor);
            doc.add_text(fields.display, &rb.title);
            doc.add_text(fields.title, &title);
            doc.add_text(fields.heading, &section.heading);
            doc.add_text(fields.body, section.body.trim());
            doc.add_text(fields.code, section.code.trim());
            for tag in &rb.tags {
                doc.add_text(fields.tags, tag);
                doc.add_text(fields.tag, tag.to_lowercase());
            }
            for name in &names {
                doc.add_text(fields.name, name);
            }
            doc.add_text(fields.category, rb.category.to_lowercase());
            doc.add_text(fields.severity, rb.severity.as_str());
            let vocab = format!("{title} {} {} {} {}", section.heading, section.body, section.code, rb.tags.join(" "));
            doc.add_text(fields.vocab, vocab);
            doc
        })
        .collect()
}

/// What a query spelling the page's name matches: lowercase stem, id, aliases, and the title
/// with only its letters and digits (`Kube Job Failed` → `kubejobfailed`).
fn name_terms(rb: &Runbook, stem: &str, id: &str) -> Vec<String> {
    let squashed =
        |text: &str| text.chars().filter(|c| c.is_alphanumeric()).flat_map(char::to_lowercase).collect::<String>();
    let mut out: Vec<String> = names(stem, id)
        .map(str::to_lowercase)
        .chain(rb.aliases.iter().map(|a| a.to_lowercase()))
        .chain([squashed(&rb.title), squashed(stem)])
        .filter(|n| !n.is_empty())
        .collect();
    out.sort();
    out.dedup();
    out
}

/// The file stem and the id as words of the title, where they name the page: not a folder's
/// index file (`_index`, `README`), and not an id in path form (its folders are no title).
fn names<'a>(stem: &'a str, id: &'a str) -> impl Iterator<Item = &'a str> {
    let naming = |name: &&str| !crate::model::runbook::is_index_stem(name) && !name.contains('/');
    let id = (id != stem).then_some(id);
    std::iter::once(stem).chain(id).filter(naming)
}

/// The index document of a recorded run: its findings, steps, checks and output tails.
/// What a run says in words, for search: each finding, each step with its outcome and checks,
/// and a fleet run's hosts.
pub(crate) fn run_prose(record: &RunRecord) -> String {
    let mut body = String::new();
    for finding in &record.findings {
        body.push_str(&format!("{} {} {}. ", finding.step, finding.severity, finding.message));
    }
    for step in &record.steps {
        body.push_str(&format!(
            "{} ({}) {} {}. ",
            step.name,
            step.id,
            step.outcome.as_str(),
            step.reason.as_deref().unwrap_or("")
        ));
        for check in &step.checks {
            body.push_str(&check.message);
            body.push_str(". ");
        }
    }
    // A fleet run is found by its hosts' names: each with how it ended and why.
    for host in record.fleet.iter().flat_map(|f| &f.hosts) {
        body.push_str(&format!("{} {} {}. ", host.name, host.outcome, host.reason.as_deref().unwrap_or("")));
    }
    body
}

pub fn archive_document(fields: &Fields, record: &RunRecord, path: &str) -> TantivyDocument {
    let body = run_prose(record);
    let mut code = String::new();
    for step in &record.steps {
        if let Some(command) = &step.command {
            code.push_str(command);
            code.push('\n');
        }
        code.push_str(&step.stdout_tail);
        code.push('\n');
        code.push_str(&step.stderr_tail);
        code.push('\n');
    }
    let title = format!("Run of {}", record.runbook.title);
    let heading = format!("{} · {} · {}", record.verdict.as_str(), record.started_at, record.run_id);
    let mut doc = TantivyDocument::default();
    doc.add_text(fields.kind, "archive");
    doc.add_text(fields.id, &record.run_id);
    doc.add_text(fields.key, archive_key(&record.run_id));
    doc.add_text(fields.path, path);
    doc.add_u64(fields.line, 1);
    doc.add_text(fields.anchor, "");
    doc.add_text(fields.display, &title);
    doc.add_text(fields.title, format!("{title} {}", record.runbook.id));
    doc.add_text(fields.heading, &heading);
    doc.add_text(fields.body, body.trim());
    doc.add_text(fields.code, code.trim());
    doc.add_text(fields.category, "archive");
    doc.add_text(fields.vocab, format!("{title} {body} {code}"));
    doc
}

/// The index document of a cycle report (its Markdown, whole).
pub fn cycle_document(fields: &Fields, name: &str, title: &str, text: &str, path: &str) -> TantivyDocument {
    let mut doc = TantivyDocument::default();
    doc.add_text(fields.kind, "cycle");
    doc.add_text(fields.id, name);
    doc.add_text(fields.key, cycle_key(name));
    doc.add_text(fields.path, path);
    doc.add_u64(fields.line, 1);
    doc.add_text(fields.anchor, "");
    doc.add_text(fields.display, title);
    doc.add_text(fields.title, title);
    doc.add_text(fields.heading, title);
    doc.add_text(fields.body, text);
    doc.add_text(fields.category, "cycle");
    doc.add_text(fields.vocab, text);
    doc
}

pub fn runbook_key(path: &str) -> String {
    format!("rb:{path}")
}

pub fn archive_key(run_id: &str) -> String {
    format!("run:{run_id}")
}

/// The run id of an [`archive_key`].
pub fn run_name(key: &str) -> Option<&str> {
    key.strip_prefix("run:")
}

pub fn cycle_key(name: &str) -> String {
    format!("cycle:{name}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::parse::{ParseContext, SourceFile, parse};

    #[test]
    fn sections_split_prose_and_code() {
        let text = "---\nsummary: Sum up.\ntags: [gpu]\n---\n# Title\n\nIntro `nvidia-smi`.\n\n## Check\n\nProse here.\n\n```yaml step\nrun: nvidia-smi -q\n```\n\n#### Deep\n\nStill check.\n\n## Fix\n\nMore.\n";
        let rb = parse(
            SourceFile {
                path: "t.md".into(),
                stem_path: "t".into(),
                category_dir: None,
                file: None,
                bytes: text.into(),
            },
            &ParseContext::default(),
        );
        let body = rb.body.clone().unwrap();
        let sections = sections(&rb, &body);
        let headings: Vec<&str> = sections.iter().map(|s| s.heading.as_str()).collect();
        assert_eq!(headings, ["Title", "Check", "Fix"], "the H1 holds the intro; H4 stays in its section");
        assert!(sections[0].body.contains("Sum up.") && sections[0].body.contains("Intro nvidia-smi"));
        assert!(sections[1].code.contains("run: nvidia-smi -q"));
        assert!(sections[1].body.contains("Prose here") && sections[1].body.contains("Still check"));
        assert!(!sections[1].body.contains("run:"));
        assert_eq!(sections[1].anchor, "check");
        assert_eq!(sections[1].line, 9);
    }
}
