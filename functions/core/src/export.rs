//! User-supplied text written into documents people open elsewhere stays text: CSV
//! cells cannot become spreadsheet formulas, and Markdown fields cannot start lines,
//! tick checklist items, add table rows or links. Every CSV export is written through
//! [`CsvTable`]; every field of the Markdown record goes through [`markdown_text`].

use std::borrow::Cow;

/// A cell a spreadsheet would run as a formula (`=HYPERLINK(…)`, `+`, `-`, `@`, or a
/// tab or carriage return before one) gets a leading single quote, as OWASP's "CSV
/// Injection" page advises: spreadsheets then show the text as typed. A line feed is
/// treated the same, as some importers drop it and read on.
pub fn csv_cell(text: &str) -> Cow<'_, str> {
    match text.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r' | '\n') => Cow::Owned(format!("'{text}")),
        _ => Cow::Borrowed(text),
    }
}

/// A CSV document whose every cell goes through [`csv_cell`].
#[derive(Debug)]
pub struct CsvTable {
    out: csv::Writer<Vec<u8>>,
}

impl CsvTable {
    /// A table with this header row.
    pub fn new<I, S>(header: I) -> Result<Self, csv::Error>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut table = Self { out: csv::Writer::from_writer(Vec::new()) };
        table.row(header)?;
        Ok(table)
    }

    pub fn row<I, S>(&mut self, cells: I) -> Result<(), csv::Error>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let cells: Vec<String> = cells.into_iter().map(|c| csv_cell(c.as_ref()).into_owned()).collect();
        self.out.write_record(&cells)
    }

    pub fn finish(self) -> Result<String, csv::Error> {
        let bytes = self.out.into_inner().map_err(|e| csv::Error::from(e.into_error()))?;
        String::from_utf8(bytes).map_err(|e| csv::Error::from(std::io::Error::new(std::io::ErrorKind::InvalidData, e)))
    }
}

/// One field of a Markdown document, as inline text: line breaks become spaces (so a
/// field cannot start a line: no forged `- [x]` item, heading or table row), other
/// control characters are dropped, and the characters that make links, emphasis, HTML,
/// code or table cells are backslash-escaped.
pub fn markdown_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\n' | '\r' | '\u{0B}' | '\u{0C}' | '\u{85}' | '\u{2028}' | '\u{2029}' => out.push(' '),
            c if c.is_control() => {}
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '|' | '~' | '&' | '!' | '#' => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formula_cells_are_quoted_and_others_kept() {
        assert_eq!(csv_cell("=HYPERLINK(\"http://evil\",\"x\")"), "'=HYPERLINK(\"http://evil\",\"x\")");
        for trigger in ["+1", "-1+2", "@SUM(A1)", "\t=1", "\r=1"] {
            assert!(csv_cell(trigger).starts_with('\''), "{trigger:?}");
        }
        assert_eq!(csv_cell("Configure the flag = on"), "Configure the flag = on");
        assert_eq!(csv_cell(""), "");
    }

    #[test]
    fn a_table_quotes_every_formula_cell() {
        let mut table = CsvTable::new(["reason", "name"]).unwrap();
        table.row(["=HYPERLINK(\"http://evil\",\"x\")", "@Ana"]).unwrap();
        let text = table.finish().unwrap();
        let mut reader = csv::Reader::from_reader(text.as_bytes());
        let row = reader.records().next().unwrap().unwrap();
        assert_eq!(&row[0], "'=HYPERLINK(\"http://evil\",\"x\")");
        assert_eq!(&row[1], "'@Ana");
    }

    #[test]
    fn markdown_fields_cannot_start_lines_or_make_links() {
        let forged = markdown_text("Debug\n- [x] Approved by security\r\n| 9 | x |");
        assert!(!forged.contains('\n') && !forged.contains('\r'));
        assert!(forged.contains("\\[x\\]") && forged.contains("\\|"), "{forged}");
        assert_eq!(markdown_text("[click](http://evil)"), "\\[click\\](http://evil)");
        assert_eq!(markdown_text("bob@example.com"), "bob@example.com");
    }
}
