//! Updating BENCHMARKS.md after a run of one group (`--only NAME`): the rows that group measured
//! replace their old versions, everything else in the report — other groups' rows, the prose
//! around them — stays as the runs that measured it wrote it.

/// `report` with each of `rows` (table lines, `| … |\n`) put into the table whose header line is
/// `header`: a row replaces the old row with the same first `key_cells` cells, or is added at the
/// end of the table. Without that table the rows are appended under a new copy of it.
pub fn merge_rows(report: &str, header: &str, rows: &[String], key_cells: usize) -> String {
    let mut lines: Vec<String> = report.lines().map(str::to_string).collect();
    let Some(start) = lines.iter().position(|line| line == header) else {
        let mut text = report.trim_end_matches('\n').to_string();
        text.push_str(&format!("\n\n{header}\n{}\n", separator(header)));
        rows.iter().for_each(|row| text.push_str(row));
        return text;
    };
    for row in rows {
        let row = row.trim_end_matches('\n');
        let end = start + lines[start..].iter().take_while(|line| line.starts_with('|')).count();
        match (start + 2..end).find(|&i| key(&lines[i], key_cells) == key(row, key_cells)) {
            Some(i) => lines[i] = row.to_string(),
            None => lines.insert(end, row.to_string()),
        }
    }
    lines.join("\n") + "\n"
}

/// `report` with the section under `heading` (a `## ` line, up to the next one) replaced by
/// `section` (which starts with its heading), or `section` appended when there is none.
pub fn replace_section(report: &str, heading: &str, section: &str) -> String {
    let marker = format!("\n{heading}\n");
    match report.find(&marker) {
        Some(start) => {
            let body = start + marker.len();
            let end = report[body..].find("\n## ").map_or(report.len(), |i| body + i);
            format!("{}{section}{}", &report[..start], &report[end..])
        }
        None => format!("{}\n{section}", report.trim_end_matches('\n')),
    }
}

fn separator(header: &str) -> String {
    let columns = header.matches('|').count().saturating_sub(1);
    format!("|{}", "---|".repeat(columns))
}

/// The first `cells` cells of a table line, trimmed.
fn key(line: &str, cells: usize) -> Vec<&str> {
    line.trim_start_matches('|').split('|').take(cells).map(str::trim).collect()
}
