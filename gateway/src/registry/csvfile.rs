//! Reading import files: CSV with a header row, `#` comments, trimmed
//! fields; and the errors every import reports, one per problem, each as
//! `FILE:LINE: column X: what is wrong`.

use std::collections::HashMap;
use std::fmt;
use std::path::Path;

use crate::store::StoreError;

/// One problem in an import.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowError {
    /// The file (or `device add` for the command line).
    pub file: String,
    /// 1-based line in the file; 0 when there is no file.
    pub line: u64,
    /// The column at fault; empty when the whole line is.
    pub column: String,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for RowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if self.line > 0 {
            write!(f, ":{}", self.line)?;
        }
        if !self.column.is_empty() {
            write!(f, ": column {}", self.column)?;
        }
        write!(f, ": {}", self.message)
    }
}

/// Why an import wrote nothing.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// Every problem found in the input; nothing was written.
    #[error("{}", join_lines(.0))]
    Invalid(Vec<RowError>),
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The database failed; nothing was written.
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn join_lines(errors: &[RowError]) -> String {
    errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

/// A parsed CSV file: header → column index, and data rows with their lines.
#[derive(Debug)]
pub(crate) struct Table {
    pub(crate) file: String,
    columns: HashMap<String, usize>,
    pub(crate) rows: Vec<(u64, csv::StringRecord)>,
}

impl Table {
    /// Reads `path`; the header must name only `known` columns and every
    /// `required` one.
    pub(crate) fn read(
        path: &Path,
        known: &[&str],
        required: &[&str],
    ) -> Result<Self, ImportError> {
        let file = path.display().to_string();
        let mut rdr = csv::ReaderBuilder::new()
            .trim(csv::Trim::All)
            .comment(Some(b'#'))
            .from_path(path)
            .map_err(|e| io_error(&file, e))?;
        let mut errors = Vec::new();
        let mut err = |line: u64, column: &str, message: String| {
            errors.push(RowError {
                file: file.clone(),
                line,
                column: column.into(),
                message,
            });
        };
        let headers = rdr.headers().map_err(|e| io_error(&file, e))?.clone();
        let header_line = headers.position().map_or(1, csv::Position::line);
        let mut columns = HashMap::new();
        for (i, h) in headers.iter().enumerate() {
            let h = h.to_ascii_lowercase();
            if !known.contains(&h.as_str()) {
                err(
                    header_line,
                    &h,
                    format!("unknown column; the columns are {}", known.join(", ")),
                );
            } else if columns.insert(h.clone(), i).is_some() {
                err(header_line, &h, "appears twice in the header".into());
            }
        }
        for r in required {
            if !columns.contains_key(*r) {
                err(header_line, r, "is missing from the header".into());
            }
        }
        let mut rows = Vec::new();
        for rec in rdr.records() {
            match rec {
                Ok(rec) => rows.push((rec.position().map_or(0, csv::Position::line), rec)),
                Err(e) => {
                    let line = e.position().map_or(0, csv::Position::line);
                    err(line, "", csv_message(&e));
                }
            }
        }
        if errors.is_empty() {
            Ok(Self {
                file,
                columns,
                rows,
            })
        } else {
            Err(ImportError::Invalid(errors))
        }
    }

    /// The value of `column` in `rec`; empty when the column is absent.
    pub(crate) fn get<'r>(&self, rec: &'r csv::StringRecord, column: &str) -> &'r str {
        self.columns
            .get(column)
            .and_then(|&i| rec.get(i))
            .unwrap_or("")
    }
}

fn csv_message(e: &csv::Error) -> String {
    match e.kind() {
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => {
            format!("has {len} fields, the header has {expected_len}")
        }
        csv::ErrorKind::Utf8 { .. } => "is not valid UTF-8".into(),
        _ => e.to_string(),
    }
}

fn io_error(file: &str, e: csv::Error) -> ImportError {
    match e.into_kind() {
        csv::ErrorKind::Io(source) => ImportError::Io {
            path: file.into(),
            source,
        },
        other => ImportError::Invalid(vec![RowError {
            file: file.into(),
            line: 1,
            column: String::new(),
            message: format!("{other:?}"),
        }]),
    }
}

/// Collects the errors of one import, sorted by line when done.
#[derive(Debug)]
pub(crate) struct Errors {
    file: String,
    list: Vec<RowError>,
}

impl Errors {
    pub(crate) fn new(file: &str) -> Self {
        Self {
            file: file.into(),
            list: Vec::new(),
        }
    }

    pub(crate) fn push(&mut self, line: u64, column: &str, message: impl Into<String>) {
        let e = RowError {
            file: self.file.clone(),
            line,
            column: column.into(),
            message: message.into(),
        };
        if !self.list.contains(&e) {
            self.list.push(e);
        }
    }

    /// How many errors so far.
    pub(crate) fn len(&self) -> usize {
        self.list.len()
    }

    /// `Ok(())` when nothing was found, else every error, by line.
    pub(crate) fn finish(mut self) -> Result<(), ImportError> {
        if self.list.is_empty() {
            return Ok(());
        }
        self.list.sort_by_key(|e| e.line);
        Err(ImportError::Invalid(self.list))
    }
}
