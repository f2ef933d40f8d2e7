//! Header checks and fixes with nibabel's problem levels (docs/nibabel-rules.md §17).
//!
//! Each format runs its checks in nibabel's order. A check reports a [`Problem`] with a level:
//! 10 (cosmetic) … 45 (the file is not what it claims to be). With `fix` the check repairs what
//! it can. As in nibabel, a problem at or above [`ERROR_LEVEL`] is an error even after a fix:
//! loading such a header fails with a Format error naming the field.

use crate::error::Error;
use std::fmt;

/// The level at and above which a header problem stops loading (nibabel's default
/// `imageglobals.error_level`).
pub const ERROR_LEVEL: u8 = 40;

/// One problem found in a header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// nibabel's problem level: 10, 20, 30, 35, 40 or 45.
    pub level: u8,
    /// The field the problem is in.
    pub field: &'static str,
    /// nibabel's problem message, word for word.
    pub message: String,
    /// What the fix did, when the check was run with fixing on.
    pub fix: Option<String>,
}

impl Problem {
    pub(crate) fn new(level: u8, field: &'static str, message: impl Into<String>) -> Self {
        Problem {
            level,
            field,
            message: message.into(),
            fix: None,
        }
    }

    pub(crate) fn fixed(mut self, fix: bool, what: impl Into<String>) -> Self {
        if fix {
            self.fix = Some(what.into());
        }
        self
    }

    /// True if this problem stops loading at nibabel's default error level.
    pub fn is_error(&self) -> bool {
        self.level >= ERROR_LEVEL
    }

    /// The Format error a loader raises for this problem.
    pub fn to_error(&self) -> Error {
        Error::header_value(self.message.clone()).field(self.field)
    }
}

impl fmt::Display for Problem {
    /// nibabel's report message: the problem, then `; ` and the fix if there is one.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.fix {
            Some(fix) => write!(f, "{}; {}", self.message, fix),
            None => f.write_str(&self.message),
        }
    }
}

/// The first problem at or above the error level, as an error.
pub(crate) fn first_error(problems: &[Problem]) -> Option<Error> {
    problems
        .iter()
        .find(|p| p.is_error())
        .map(Problem::to_error)
}
