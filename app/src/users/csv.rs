//! CSV in and out of the Users application (server only; the browser sends
//! the file as it is and never parses it).
//!
//! - [`parse_import`] reads an import file: UTF-8 with or without a byte
//!   order mark, `,` or `;` between fields (whichever the header line uses),
//!   quoted fields, LF or CRLF, columns found by their heading in any order
//!   (email, first name, last name, roles), roles separated by `;` or `|`.
//!   The `csv` crate does the reading; this module decides what the
//!   headings and cells mean.
//! - [`CsvOut`] writes an export, with formula injection defused
//!   ([`defuse`]).

use ::csv::{ReaderBuilder, Terminator, Trim, WriterBuilder};

/// The largest import file accepted: 2 MiB, about 25,000 rows of typical
/// names and addresses.
pub const MAX_IMPORT_BYTES: usize = 2 * 1024 * 1024;

/// The most rows one import takes.
pub const MAX_IMPORT_ROWS: usize = 10_000;

/// One data row of an import file, its cells trimmed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportLine {
    /// The line of the file the row starts on (the header is line 1).
    pub line: u64,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    /// Role names as written, empty names dropped.
    pub roles: Vec<String>,
    /// Why the row cannot be read as a person, if it cannot (a row with more
    /// cells than the header has headings).
    pub problem: Option<String>,
}

/// Why a whole file is refused (a problem with one row is that row's `problem`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FileError {
    #[error(
        "The file is empty. It needs a header line (email, first name, last name, roles) and one line per person."
    )]
    Empty,
    #[error("The file is {size} bytes; the largest file Roster imports is {limit} bytes (2 MiB). Split it into smaller files.", limit = MAX_IMPORT_BYTES)]
    TooLarge { size: usize },
    #[error("The file has more than {limit} people; import at most {limit} at a time.", limit = MAX_IMPORT_ROWS)]
    TooManyRows,
    #[error("Line {line} is not UTF-8 text. Save the file as \"CSV UTF-8\" and upload it again.")]
    NotUtf8 { line: u64 },
    #[error("The header line has no email column. The first line must name the columns: email, first name, last name, roles.")]
    NoEmailColumn,
    #[error("The header line names the column \"{0}\" twice.")]
    DuplicateColumn(String),
    #[error("The file has a header line but no people.")]
    NoRows,
    #[error("The file cannot be read as CSV: {0}")]
    Malformed(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Column {
    Email,
    FirstName,
    LastName,
    Roles,
}

/// What a heading means: case, spaces, `_` and `-` do not matter.
fn column_of(heading: &str) -> Option<Column> {
    let key: String =
        heading.chars().filter(|c| !c.is_whitespace() && *c != '_' && *c != '-').flat_map(char::to_lowercase).collect();
    match key.as_str() {
        "email" | "emailaddress" | "mail" => Some(Column::Email),
        "firstname" | "givenname" | "first" => Some(Column::FirstName),
        "lastname" | "surname" | "familyname" | "last" => Some(Column::LastName),
        "roles" | "role" => Some(Column::Roles),
        _ => None,
    }
}

/// `;` when the header line has more semicolons than commas outside quotes, else `,`.
fn separator(text: &str) -> u8 {
    let (mut commas, mut semicolons, mut quoted) = (0, 0, false);
    for c in text.chars() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => commas += 1,
            ';' if !quoted => semicolons += 1,
            '\n' if !quoted => break,
            _ => {}
        }
    }
    if semicolons > commas {
        b';'
    } else {
        b','
    }
}

/// Role names in one cell, separated by `;` or `|`.
pub fn split_roles(cell: &str) -> Vec<String> {
    cell.split([';', '|']).map(str::trim).filter(|r| !r.is_empty()).map(str::to_string).collect()
}

/// Read an import file (see the module documentation). Rows whose cells are
/// all empty are skipped.
pub fn parse_import(bytes: &[u8]) -> Result<Vec<ImportLine>, FileError> {
    if bytes.len() > MAX_IMPORT_BYTES {
        return Err(FileError::TooLarge { size: bytes.len() });
    }
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let text = std::str::from_utf8(bytes).map_err(|e| {
        let line = bytes[..e.valid_up_to()].iter().filter(|&&b| b == b'\n').count() as u64 + 1;
        FileError::NotUtf8 { line }
    })?;
    if text.trim().is_empty() {
        return Err(FileError::Empty);
    }
    let mut reader = ReaderBuilder::new()
        .delimiter(separator(text))
        .has_headers(true)
        .flexible(true)
        .trim(Trim::All)
        .terminator(Terminator::CRLF)
        .from_reader(text.as_bytes());
    let headers = reader.headers().map_err(|e| FileError::Malformed(e.to_string()))?.clone();
    let mut columns: Vec<Option<Column>> = Vec::with_capacity(headers.len());
    for heading in headers.iter() {
        let column = column_of(heading);
        if column.is_some() && columns.contains(&column) {
            return Err(FileError::DuplicateColumn(heading.to_string()));
        }
        columns.push(column);
    }
    if !columns.contains(&Some(Column::Email)) {
        return Err(FileError::NoEmailColumn);
    }
    let mut out = Vec::new();
    let (mut counted_to, mut lines_before) = (0usize, 0u64);
    for record in reader.records() {
        let record = record.map_err(|e| FileError::Malformed(e.to_string()))?;
        if record.iter().all(str::is_empty) {
            continue;
        }
        if out.len() == MAX_IMPORT_ROWS {
            return Err(FileError::TooManyRows);
        }
        // The line the record starts on, counted here: after a CRLF the
        // reader's position (and its line count) is still on the `\n`.
        let mut start = record.position().map_or(counted_to, |p| p.byte() as usize).clamp(counted_to, text.len());
        while text.as_bytes().get(start).is_some_and(|b| matches!(b, b'\r' | b'\n')) {
            start += 1;
        }
        lines_before += text.as_bytes()[counted_to..start].iter().filter(|&&b| b == b'\n').count() as u64;
        counted_to = start;
        let line = lines_before + 1;
        let mut row = ImportLine {
            line,
            email: String::new(),
            first_name: String::new(),
            last_name: String::new(),
            roles: Vec::new(),
            problem: None,
        };
        if record.len() > columns.len() {
            row.problem = Some(format!(
                "This line has {} cells but the header names {}: is a value with a separator missing its quotes?",
                record.len(),
                columns.len()
            ));
        }
        for (cell, column) in record.iter().zip(&columns) {
            match column {
                Some(Column::Email) => row.email = cell.to_string(),
                Some(Column::FirstName) => row.first_name = cell.to_string(),
                Some(Column::LastName) => row.last_name = cell.to_string(),
                Some(Column::Roles) => row.roles = split_roles(cell),
                None => {}
            }
        }
        out.push(row);
    }
    if out.is_empty() {
        return Err(FileError::NoRows);
    }
    Ok(out)
}

/// A cell a spreadsheet would run as a formula (`=`, `+`, `-`, `@`, or a tab
/// or carriage return before one) gets a leading `'`, which spreadsheets read
/// as "text" (OWASP, CSV injection).
pub fn defuse(cell: &str) -> std::borrow::Cow<'_, str> {
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        std::borrow::Cow::Owned(format!("'{cell}"))
    } else {
        std::borrow::Cow::Borrowed(cell)
    }
}

/// CSV being written (comma-separated, quoted where needed, CRLF), every
/// cell defused ([`defuse`]); [`CsvOut::take`] hands over what is written so
/// far, so a long export goes out in pieces.
pub struct CsvOut(::csv::Writer<Vec<u8>>);

impl Default for CsvOut {
    fn default() -> Self {
        Self(WriterBuilder::new().terminator(Terminator::CRLF).from_writer(Vec::new()))
    }
}

impl CsvOut {
    pub fn record<'a>(&mut self, cells: impl IntoIterator<Item = &'a str>) -> Result<(), std::io::Error> {
        self.0.write_record(cells.into_iter().map(|c| defuse(c).into_owned())).map_err(std::io::Error::other)
    }

    /// Everything written since the last `take`.
    pub fn take(&mut self) -> Result<Vec<u8>, std::io::Error> {
        let done = std::mem::take(self);
        done.0.into_inner().map_err(|e| e.into_error())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn emails(rows: &[ImportLine]) -> Vec<&str> {
        rows.iter().map(|r| r.email.as_str()).collect()
    }

    #[test]
    fn reads_commas_semicolons_bom_quotes_and_crlf() {
        let comma = "email,first name,last name,roles\nada@example.com,Ada,Lovelace,Editors\n";
        let rows = parse_import(comma.as_bytes()).unwrap();
        assert_eq!(
            rows,
            vec![ImportLine {
                line: 2,
                email: "ada@example.com".into(),
                first_name: "Ada".into(),
                last_name: "Lovelace".into(),
                roles: vec!["Editors".into()],
                problem: None,
            }]
        );
        let semi = "\u{feff}Email;First Name;Last Name;Roles\r\n\"ada@example.com\";\"Ada; the first\";Lovelace;\"Editors;Support\"\r\n";
        let rows = parse_import(semi.as_bytes()).unwrap();
        assert_eq!(rows[0].email, "ada@example.com");
        assert_eq!(rows[0].first_name, "Ada; the first");
        assert_eq!(rows[0].roles, vec!["Editors", "Support"]);
        let quoted = "email,first_name,last_name,roles\r\n\"ada@example.com\",\"Lovelace, Ada\",\"O\"\"Brien\",Editors | Support\r\n";
        let rows = parse_import(quoted.as_bytes()).unwrap();
        assert_eq!(rows[0].first_name, "Lovelace, Ada");
        assert_eq!(rows[0].last_name, "O\"Brien");
        assert_eq!(rows[0].roles, vec!["Editors", "Support"]);
    }

    #[test]
    fn columns_in_any_order_and_only_email_required() {
        let rows = parse_import(b"Roles,E-mail\nEditors,a@example.com\n\n,\n,b@example.com\n").unwrap();
        assert_eq!(emails(&rows), ["a@example.com", "b@example.com"]);
        assert_eq!(rows[0].roles, vec!["Editors"]);
        assert_eq!(rows[1].line, 5, "blank lines and empty rows are skipped, lines still counted");
        assert!(rows[1].roles.is_empty());
    }

    #[test]
    fn refuses_what_is_not_an_import_file_with_a_reason() {
        assert_eq!(parse_import(b""), Err(FileError::Empty));
        assert_eq!(parse_import(b"\xEF\xBB\xBF \r\n"), Err(FileError::Empty));
        assert_eq!(parse_import(b"name,roles\nAda,x\n"), Err(FileError::NoEmailColumn));
        assert_eq!(parse_import(b"email,Email\n"), Err(FileError::DuplicateColumn("Email".into())));
        assert_eq!(parse_import(b"email\n"), Err(FileError::NoRows));
        assert_eq!(parse_import(b"email\na@example.com\nb\xFF@example.com\n"), Err(FileError::NotUtf8 { line: 3 }));
        let big = vec![b'a'; MAX_IMPORT_BYTES + 1];
        assert_eq!(parse_import(&big), Err(FileError::TooLarge { size: MAX_IMPORT_BYTES + 1 }));
        assert!(FileError::TooLarge { size: 3_000_000 }.to_string().contains("2 MiB"));
        let many = format!("email\n{}", "a@example.com\n".repeat(MAX_IMPORT_ROWS + 1));
        assert_eq!(parse_import(many.as_bytes()), Err(FileError::TooManyRows));
        let exactly = format!("email\n{}", "a@example.com\n".repeat(MAX_IMPORT_ROWS));
        assert_eq!(parse_import(exactly.as_bytes()).unwrap().len(), MAX_IMPORT_ROWS);
    }

    #[test]
    fn a_row_with_too_many_cells_is_that_rows_problem() {
        let rows = parse_import(b"email,first name\na@example.com,Ada,Lovelace\nb@example.com,Bea\n").unwrap();
        assert!(rows[0].problem.as_deref().unwrap().contains("3 cells"), "{:?}", rows[0].problem);
        assert_eq!(rows[1].problem, None);
    }

    #[test]
    fn formulas_are_defused_and_records_quoted() {
        assert_eq!(defuse("=1+2"), "'=1+2");
        assert_eq!(defuse("+1"), "'+1");
        assert_eq!(defuse("-1"), "'-1");
        assert_eq!(defuse("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(defuse("\t=1"), "'\t=1");
        assert_eq!(defuse("ada@example.com"), "ada@example.com");
        let mut out = CsvOut::default();
        out.record(["a,b", "say \"hi\"", "=HYPERLINK(\"x\")", ""]).unwrap();
        assert_eq!(
            String::from_utf8(out.take().unwrap()).unwrap(),
            "\"a,b\",\"say \"\"hi\"\"\",\"'=HYPERLINK(\"\"x\"\")\",\r\n"
        );
    }
}
