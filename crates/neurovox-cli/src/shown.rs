//! Text from outside — file names, and error messages that quote them — made safe to print:
//! control characters (a newline, `ESC[31m`) are shown escaped, so a crafted name can neither
//! break the one-line-per-file format nor send escape sequences to the terminal.

use std::path::{Path, PathBuf};

/// `text` with every control character escaped (`\n`, `\u{1b}`); everything else, quotes and
/// backslashes included, as it is.
pub fn text(text: &str) -> String {
    if !text.chars().any(char::is_control) {
        return text.to_owned();
    }
    text.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// A path as the CLI shows it: see [`text`].
pub fn path(path: &Path) -> String {
    text(&path.display().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_escaped_and_the_rest_kept() {
        assert_eq!(text("a\nb\u{1b}[31mc"), "a\\nb\\u{1b}[31mc");
        assert_eq!(text("plain 'x' \\ é.nii"), "plain 'x' \\ é.nii");
        assert_eq!(path(Path::new("dir/x\ty.nii")), "dir/x\\ty.nii");
    }
}

/// An image to describe: the path to read and the name to show for it.
#[derive(Debug, Clone)]
pub struct Target {
    /// The name printed in the first column (the path as the user gave it).
    pub shown: String,
    /// The file to read.
    pub path: PathBuf,
}

impl Target {
    /// A target shown under the path as given.
    pub fn from_path(path: &Path) -> Target {
        Target {
            shown: self::path(path),
            path: path.to_path_buf(),
        }
    }
}
