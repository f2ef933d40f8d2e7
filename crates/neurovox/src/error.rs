//! One error type for the whole crate.
//!
//! Every error has a [`ErrorKind`] (what sort of fault) and, where known, the file, the header
//! field and the byte offset at fault. Header codecs know nothing of files, so they fill in the
//! field and offset; the layer that opened the file adds the path with [`Error::with_path`].
//!
//! The taxonomy follows image-tiff: the file is wrong (`Format`), the file is valid but we do not
//! handle it (`Unsupported`), the operating system failed (`Io`), a declared size is over a limit
//! or over what the file holds (`Limit`), or the caller asked for something impossible (`Usage`).

use std::borrow::Cow;
use std::fmt;
use std::path::{Path, PathBuf};

/// The result type of every fallible neurovox function.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What sort of fault an [`Error`] reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The input is not a valid file of the format it claims to be.
    Format,
    /// The input is valid, but neurovox does not handle this feature.
    Unsupported,
    /// The operating system reported a failure while reading or writing.
    Io,
    /// A size declared in a header is over a limit or over the length of the file.
    Limit,
    /// The caller asked for something impossible (bad argument, out-of-range index).
    Usage,
    /// The file changed on disk (replaced or rewritten) since it was opened: what it holds
    /// now is not what the reader was built for.
    Stale,
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ErrorKind::Format => "format error",
            ErrorKind::Unsupported => "unsupported",
            ErrorKind::Io => "I/O error",
            ErrorKind::Limit => "limit exceeded",
            ErrorKind::Usage => "usage error",
            ErrorKind::Stale => "file changed on disk",
        })
    }
}

/// Which failure an [`Error`] reports, where one kind covers failures a caller must tell
/// apart: the Python layer raises nibabel's exception for each (docs/compat.md, "Errors")
/// from this, never from which details an error happens to carry.
///
/// ```
/// use neurovox::{Error, ErrorReason};
///
/// let bad_value = Error::header_value("dim[0] = 9 is outside 1..=7").field("dim");
/// assert_eq!(bad_value.reason(), ErrorReason::HeaderValue);
/// // Naming a field for context does not make a damaged file a bad header value.
/// let damaged = Error::format("gzip member CRC-32 mismatch").field("data");
/// assert_eq!(damaged.reason(), ErrorReason::FileContent);
/// assert_eq!(Error::truncated("the file ends early").reason(), ErrorReason::Truncated);
/// assert_eq!(Error::usage("step cannot be zero").reason(), ErrorReason::Other);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorReason {
    /// A header holds a value that is invalid, inconsistent or not supported (a
    /// [`ErrorKind::Format`] error made by [`Error::header_value`], or any
    /// [`ErrorKind::Unsupported`] error): nibabel's `HeaderDataError`.
    HeaderValue,
    /// The bytes are not a valid file of the format they claim, or are damaged (any other
    /// [`ErrorKind::Format`] error): nibabel's `ImageFileError`.
    FileContent,
    /// The file ends before the data it declares ([`Error::truncated`]).
    Truncated,
    /// The kind says all there is (`Io`, `Limit`, `Usage`, `Stale`).
    Other,
}

/// A neurovox error: a kind, a message, and where the fault lies.
///
/// ```
/// use neurovox::{Error, ErrorKind};
///
/// let err = Error::header_value("dim[0] = 9 is outside 1..=7")
///     .field("dim")
///     .offset(40)
///     .with_path("scan.nii");
/// assert_eq!(err.kind(), ErrorKind::Format);
/// assert_eq!(err.field_name(), Some("dim"));
/// assert_eq!(
///     err.to_string(),
///     "scan.nii: field `dim` (byte 40): format error: dim[0] = 9 is outside 1..=7"
/// );
/// ```
#[derive(Debug)]
pub struct Error {
    kind: ErrorKind,
    message: Cow<'static, str>,
    path: Option<PathBuf>,
    field: Option<Cow<'static, str>>,
    offset: Option<u64>,
    header_value: bool,
    source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
}

impl Error {
    /// A new error of `kind` with a message.
    pub fn new(kind: ErrorKind, message: impl Into<Cow<'static, str>>) -> Self {
        Error {
            kind,
            message: message.into(),
            path: None,
            field: None,
            offset: None,
            header_value: false,
            source: None,
        }
    }

    /// The input is not a valid file of its format.
    pub fn format(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorKind::Format, message)
    }

    /// A header value is invalid, inconsistent or not supported: a [`ErrorKind::Format`] error
    /// whose [`Error::reason`] is [`ErrorReason::HeaderValue`] (nibabel's `HeaderDataError`).
    pub fn header_value(message: impl Into<Cow<'static, str>>) -> Self {
        let mut e = Self::new(ErrorKind::Format, message);
        e.header_value = true;
        e
    }

    /// The input is valid but not handled.
    pub fn unsupported(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorKind::Unsupported, message)
    }

    /// A declared size is over a limit or over the file's length.
    pub fn limit(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorKind::Limit, message)
    }

    /// The caller asked for something impossible.
    pub fn usage(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorKind::Usage, message)
    }

    /// The file changed on disk since it was opened.
    pub fn stale(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorKind::Stale, message)
    }

    /// The file ends before data it declares (a truncated download or copy): a Format
    /// error whose source is an `UnexpectedEof` I/O error, which [`Error::is_truncation`]
    /// tells from other format errors (Python raises it as an `EOFError` too, as nibabel's
    /// gzip reader does).
    ///
    /// ```
    /// use neurovox::{Error, ErrorKind};
    /// let e = Error::truncated("the file ends inside a gzip member");
    /// assert_eq!(e.kind(), ErrorKind::Format);
    /// assert!(e.is_truncation());
    /// assert!(!Error::format("bad magic").is_truncation());
    /// ```
    pub fn truncated(message: impl Into<Cow<'static, str>>) -> Self {
        let mut e = Self::new(ErrorKind::Format, message);
        e.source = Some(Box::new(std::io::Error::from(
            std::io::ErrorKind::UnexpectedEof,
        )));
        e
    }

    /// True for an error made by [`Error::truncated`] (or an I/O error of kind
    /// `UnexpectedEof`).
    pub fn is_truncation(&self) -> bool {
        self.source
            .as_deref()
            .and_then(|s| s.downcast_ref::<std::io::Error>())
            .is_some_and(|io| io.kind() == std::io::ErrorKind::UnexpectedEof)
    }

    /// An operating-system failure; the `io::Error` is kept as the source.
    pub fn io(err: std::io::Error) -> Self {
        let message = err.to_string();
        let mut e = Self::new(ErrorKind::Io, message);
        e.source = Some(Box::new(err));
        e
    }

    /// The error that `err` carries through a `std::io` interface (one made with
    /// `io::Error::other(error)`: a stream over a remote object, a producer feeding the gzip
    /// writer), or `err` back when it carries none.
    pub(crate) fn carried_by(err: std::io::Error) -> std::result::Result<Error, std::io::Error> {
        if !err.get_ref().is_some_and(|inner| inner.is::<Error>()) {
            return Err(err);
        }
        let kind = err.kind();
        Ok(
            match err.into_inner().map(|inner| inner.downcast::<Error>()) {
                Some(Ok(inner)) => *inner,
                _ => Error::io(std::io::Error::from(kind)),
            },
        )
    }

    /// Names the header field at fault.
    #[must_use]
    pub fn field(mut self, name: impl Into<Cow<'static, str>>) -> Self {
        self.field = Some(name.into());
        self
    }

    /// Names the byte offset at fault (in the file, or in the header block for codecs).
    #[must_use]
    pub fn offset(mut self, offset: u64) -> Self {
        self.offset = Some(offset);
        self
    }

    /// Names the file, unless a file was already named (the innermost path wins).
    #[must_use]
    pub fn with_path(mut self, path: impl AsRef<Path>) -> Self {
        if self.path.is_none() {
            self.path = Some(path.as_ref().to_path_buf());
        }
        self
    }

    /// What sort of fault this is.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// For an I/O error, what the operating system (or, for a URL, the server) said:
    /// `NotFound` for a missing file or a 404, `PermissionDenied` for a refused one or a 403.
    ///
    /// ```
    /// let e = neurovox::Error::from(std::io::Error::new(std::io::ErrorKind::NotFound, "gone"));
    /// assert_eq!(e.io_error_kind(), Some(std::io::ErrorKind::NotFound));
    /// assert_eq!(neurovox::Error::usage("no").io_error_kind(), None);
    /// ```
    pub fn io_error_kind(&self) -> Option<std::io::ErrorKind> {
        self.source
            .as_deref()
            .and_then(|s| s.downcast_ref::<std::io::Error>())
            .map(|e| e.kind())
    }

    /// Which failure this is, where the kind alone does not say (see [`ErrorReason`]).
    pub fn reason(&self) -> ErrorReason {
        if self.is_truncation() {
            return ErrorReason::Truncated;
        }
        match self.kind {
            ErrorKind::Format if self.header_value => ErrorReason::HeaderValue,
            ErrorKind::Format => ErrorReason::FileContent,
            ErrorKind::Unsupported => ErrorReason::HeaderValue,
            _ => ErrorReason::Other,
        }
    }

    /// The message without the location.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The file at fault, if known.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// The header field at fault, if known.
    pub fn field_name(&self) -> Option<&str> {
        self.field.as_deref()
    }

    /// The byte offset at fault, if known.
    pub fn byte_offset(&self) -> Option<u64> {
        self.offset
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(path) = &self.path {
            write!(f, "{}: ", path.display())?;
        }
        match (&self.field, self.offset) {
            (Some(field), Some(offset)) => write!(f, "field `{field}` (byte {offset}): ")?,
            (Some(field), None) => write!(f, "field `{field}`: ")?,
            (None, Some(offset)) => write!(f, "byte {offset}: ")?,
            (None, None) => {}
        }
        write!(f, "{}: {}", self.kind, self.message)
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

impl From<std::io::Error> for Error {
    fn from(err: std::io::Error) -> Self {
        Error::io(err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_without_location_is_kind_and_message() {
        let e = Error::usage("step cannot be zero");
        assert_eq!(e.to_string(), "usage error: step cannot be zero");
    }

    #[test]
    fn innermost_path_wins() {
        let e = Error::limit("too big")
            .with_path("inner.hdr")
            .with_path("outer.img");
        assert_eq!(e.path(), Some(Path::new("inner.hdr")));
    }

    #[test]
    fn io_errors_keep_their_source() {
        let e = Error::from(std::io::Error::new(std::io::ErrorKind::NotFound, "gone"));
        assert_eq!(e.kind(), ErrorKind::Io);
        assert!(std::error::Error::source(&e).is_some());
        assert_eq!(e.offset(7).byte_offset(), Some(7));
    }
}
