//! Load-time diagnostics shared by every loader (spec, scenarios, templates).
//!
//! Loading reports every problem it finds, not just the first, so each loader
//! collects [`LoadError`]s into a [`LoadErrors`] list that names the file and,
//! where known, the line of each problem.

use std::fmt;

use serde::Serialize;

/// One problem found while loading a spec, scenario or template file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
pub struct LoadError {
    /// The file the problem is in, as the user named it.
    pub file: String,
    /// 1-based line, where the loader could tell.
    pub line: Option<usize>,
    /// What is wrong and, where possible, what was expected.
    pub message: String,
}

impl LoadError {
    pub fn new(file: impl Into<String>, line: Option<usize>, message: impl Into<String>) -> Self {
        Self {
            file: file.into(),
            line,
            message: message.into(),
        }
    }
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{}: {}", self.file, line, self.message),
            None => write!(f, "{}: {}", self.file, self.message),
        }
    }
}

/// Every problem found by one load; never empty when returned as an error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct LoadErrors(pub Vec<LoadError>);

impl LoadErrors {
    pub fn first(&self) -> Option<&LoadError> {
        self.0.first()
    }
}

impl fmt::Display for LoadErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let count = self.0.len();
        write!(f, "{count} error{}", if count == 1 { "" } else { "s" })?;
        for error in &self.0 {
            write!(f, "\n  {error}")?;
        }
        Ok(())
    }
}

impl From<LoadError> for LoadErrors {
    fn from(error: LoadError) -> Self {
        Self(vec![error])
    }
}

/// Finds the 1-based line of the first line of `text` containing `needle`,
/// starting the search at line `from` (1-based). Loaders use it to point at a
/// scenario or key when the parser does not report positions for values.
pub fn line_of(text: &str, needle: &str, from: usize) -> Option<usize> {
    text.lines()
        .enumerate()
        .skip(from.saturating_sub(1))
        .find(|(_, line)| line.contains(needle))
        .map(|(index, _)| index + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_lists_every_error_with_file_and_line() {
        let errors = LoadErrors(vec![
            LoadError::new("a.yaml", Some(3), "bad"),
            LoadError::new("b.json", None, "worse"),
        ]);
        assert_eq!(
            errors.to_string(),
            "2 errors\n  a.yaml:3: bad\n  b.json: worse"
        );
    }

    #[test]
    fn line_of_finds_needle_after_start() {
        let text = "a\nname: x\nb\nname: x\n";
        assert_eq!(line_of(text, "name: x", 1), Some(2));
        assert_eq!(line_of(text, "name: x", 3), Some(4));
        assert_eq!(line_of(text, "zzz", 1), None);
    }
}
