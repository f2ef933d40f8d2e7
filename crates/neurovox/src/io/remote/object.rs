//! One object on a web server or in S3: ranged GETs with timeouts, retries and a fingerprint.
//!
//! The first request is a GET of the object's first [`RemoteOptions::first_request_bytes`]
//! (48 KiB): its `Content-Range` gives the size, its `ETag` and `Last-Modified` the
//! fingerprint, its body the bytes a header load needs — one request where a `HEAD` and a
//! `GET` would be two. A suffix request for the object's last bytes may go beside it
//! ([`RemoteObject::open_with_tail`]); its answer counts only if its fingerprint is the first
//! answer's. Every later range asks `If-Match` with a strong ETag, and every answer's
//! ETag, Last-Modified and size are compared with the fingerprint: an object replaced between
//! two reads is a Stale error, never bytes of two versions mixed.
//!
//! Transient failures — a connection refused, reset or dropped mid-body, a timeout, a 5xx or
//! 429 answer, a body shorter than its range — are retried [`RemoteOptions::retries`] times
//! with doubling waits from [`RemoteOptions::backoff`]. 404 is an `Io` error of kind
//! `NotFound`, 403 and 401 `PermissionDenied` (Python: `FileNotFoundError`,
//! `PermissionError`), each naming the URL. An anonymous `s3://` object refused at the first
//! request is opened once more signed with the EC2 instance's role, when the instance
//! metadata service gives one (`RemoteLocation::with_instance_role`).

use super::location::RemoteLocation;
use crate::error::{Error, Result};
use crate::io::fingerprint::RemoteFingerprint;
use std::io::Read;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// How remote objects are read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteOptions {
    /// Longest wait for a connection, and for each read of an answer.
    pub timeout: Duration,
    /// Retries of a request after a transient failure.
    pub retries: u32,
    /// The wait before the first retry; each further retry waits twice as long.
    pub backoff: Duration,
    /// The block cache's cap, in bytes, per object.
    pub cache_bytes: usize,
    /// Bytes asked by the first request (a header load needs no more than these and the
    /// object's last 16 KiB).
    pub first_request_bytes: u64,
}

impl Default for RemoteOptions {
    fn default() -> Self {
        RemoteOptions {
            timeout: Duration::from_secs(30),
            retries: 4,
            backoff: Duration::from_millis(200),
            cache_bytes: 64 << 20,
            // With the 16 KiB tail a gzip file's trailer is read from, a header load asks
            // for 64 KiB in two requests.
            first_request_bytes: 48 << 10,
        }
    }
}

impl RemoteOptions {
    /// The defaults, with `NEUROVOX_REMOTE_TIMEOUT` (seconds), `NEUROVOX_REMOTE_RETRIES` and
    /// `NEUROVOX_REMOTE_CACHE_BYTES` taken from the environment when set and valid.
    pub fn from_env() -> Self {
        let mut options = RemoteOptions::default();
        let var = |name: &str| std::env::var(name).ok();
        if let Some(secs) = var("NEUROVOX_REMOTE_TIMEOUT").and_then(|v| v.parse::<f64>().ok())
            && secs.is_finite()
            && secs > 0.0
        {
            options.timeout = Duration::from_secs_f64(secs.min(3600.0));
        }
        if let Some(n) = var("NEUROVOX_REMOTE_RETRIES").and_then(|v| v.parse().ok()) {
            options.retries = n;
        }
        if let Some(n) = var("NEUROVOX_REMOTE_CACHE_BYTES").and_then(|v| v.parse().ok()) {
            options.cache_bytes = n;
        }
        options
    }
}

/// One object on a server, read in ranges. Cheap to share between threads.
///
/// ```no_run
/// use neurovox::io::{RemoteObject, RemoteOptions};
/// let (object, first) = RemoteObject::open("https://example.org/sub-01_T1w.nii.gz",
///                                          RemoteOptions::default())?;
/// println!("{} bytes, the first {} in hand", object.fingerprint().size, first.len());
/// let mut tail = vec![0u8; 42];
/// object.fetch(object.fingerprint().size - 42, &mut tail)?;
/// # Ok::<(), neurovox::Error>(())
/// ```
#[derive(Debug)]
pub struct RemoteObject {
    location: RemoteLocation,
    agent: ureq::Agent,
    options: RemoteOptions,
    fingerprint: RemoteFingerprint,
    counters: Arc<Counters>,
}

/// Requests sent and body bytes received for one object, shared with the thread of a
/// suffix request ([`RemoteObject::open_with_tail`]).
#[derive(Debug, Default)]
struct Counters {
    requests: AtomicU64,
    bytes: AtomicU64,
}

/// The object's last bytes, as a suffix request made beside the first one answered them.
#[derive(Debug)]
struct SuffixAnswer {
    fingerprint: RemoteFingerprint,
    /// The offset of `bytes[0]` in the object.
    start: u64,
    bytes: Vec<u8>,
}

/// What one attempt of a request came to.
enum Attempt {
    Done,
    /// Worth another try (the reason, for the error if none is left).
    Transient(Error),
    Fatal(Error),
}

impl RemoteObject {
    /// Opens the object at `url`: one GET of its first bytes, which are returned.
    pub fn open(url: &str, options: RemoteOptions) -> Result<(Self, Vec<u8>)> {
        let (object, first, _) = Self::open_with_tail(url, options, 0)?;
        Ok((object, first))
    }

    /// Opens the object at `url` as [`open`](Self::open) does and, when `tail_bytes` is not
    /// 0, asks at the same moment for its last `tail_bytes` bytes (a suffix range, which needs
    /// no size): a reader that wants both ends — a gzip file's trailer and member index — has
    /// them after one round trip instead of two. Returns the first bytes and the last ones
    /// with their offset. The suffix request is tried once: when it fails, or its answer is
    /// not of the object the first request saw, no tail is returned and the caller fetches
    /// those bytes as any others, with retries and errors.
    ///
    /// ```no_run
    /// use neurovox::io::{RemoteObject, RemoteOptions};
    /// let (object, first, tail) = RemoteObject::open_with_tail(
    ///     "https://example.org/sub-01_bold.nii.gz", RemoteOptions::default(), 16 << 10)?;
    /// if let Some((start, bytes)) = tail {
    ///     assert_eq!(start + bytes.len() as u64, object.fingerprint().size);
    /// }
    /// # Ok::<(), neurovox::Error>(())
    /// ```
    #[allow(clippy::type_complexity)]
    pub fn open_with_tail(
        url: &str,
        options: RemoteOptions,
        tail_bytes: u64,
    ) -> Result<(Self, Vec<u8>, Option<(u64, Vec<u8>)>)> {
        let location = RemoteLocation::parse(url)?;
        match Self::open_at(location.clone(), options.clone(), tail_bytes) {
            // Refused anonymously: on EC2 the instance's role may be what should sign it.
            Err(refused)
                if refused.io_error_kind() == Some(std::io::ErrorKind::PermissionDenied) =>
            {
                match location.with_instance_role() {
                    Ok(Some(signed)) => Self::open_at(signed, options, tail_bytes),
                    Ok(None) => Err(refused),
                    Err(no_role) => Err(Error::io(std::io::Error::new(
                        std::io::ErrorKind::PermissionDenied,
                        format!("{}; and {}", refused.message(), no_role.message()),
                    ))
                    .with_path(url)),
                }
            }
            opened => opened,
        }
    }

    /// [`open_with_tail`](Self::open_with_tail) of a parsed location.
    #[allow(clippy::type_complexity)]
    fn open_at(
        location: RemoteLocation,
        options: RemoteOptions,
        tail_bytes: u64,
    ) -> Result<(Self, Vec<u8>, Option<(u64, Vec<u8>)>)> {
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(Some(options.timeout))
            .timeout_per_read(Some(options.timeout))
            .timeout_recv_response(Some(options.timeout))
            .max_redirects(5)
            .user_agent(concat!("neurovox/", env!("CARGO_PKG_VERSION")))
            .build();
        let mut object = RemoteObject {
            location,
            agent: config.into(),
            options,
            fingerprint: RemoteFingerprint {
                size: 0,
                etag: None,
                last_modified: None,
            },
            counters: Arc::default(),
        };
        if tail_bytes == 0 {
            let first = object.first_request()?;
            return Ok((object, first, None));
        }
        let (agent, location) = (object.agent.clone(), object.location.clone());
        let counters = Arc::clone(&object.counters);
        let (first, suffix) = std::thread::scope(|scope| {
            let suffix = scope.spawn(|| suffix_request(&agent, &location, &counters, tail_bytes));
            let first = object.first_request();
            (first, suffix.join().ok().flatten())
        });
        let first = first?;
        let tail = suffix
            .filter(|answer| answer.fingerprint == object.fingerprint)
            .map(|answer| (answer.start, answer.bytes));
        Ok((object, first, tail))
    }

    /// The URL as given.
    pub fn location(&self) -> &RemoteLocation {
        &self.location
    }

    /// Size, ETag and Last-Modified from the first answer.
    pub fn fingerprint(&self) -> &RemoteFingerprint {
        &self.fingerprint
    }

    /// Requests sent so far (retries included).
    pub fn requests(&self) -> u64 {
        self.counters.requests.load(Ordering::Relaxed)
    }

    /// Body bytes received so far.
    pub fn bytes_received(&self) -> u64 {
        self.counters.bytes.load(Ordering::Relaxed)
    }

    /// The options it was opened with.
    pub fn options(&self) -> &RemoteOptions {
        &self.options
    }

    fn path(&self) -> &Path {
        Path::new(self.location.as_str())
    }

    /// Fills `buf` with the object's bytes from `offset`, retrying transient failures.
    pub fn fetch(&self, offset: u64, buf: &mut [u8]) -> Result<()> {
        if buf.is_empty() {
            return Ok(());
        }
        let size = self.fingerprint.size;
        let end = offset.checked_add(buf.len() as u64).filter(|&e| e <= size);
        let Some(end) = end else {
            return Err(crate::io::source::past_end(
                Some(self.path()),
                offset,
                buf.len(),
                size,
            ));
        };
        self.with_retries(|| self.attempt_range(offset, end, buf))
    }

    fn with_retries(&self, mut attempt: impl FnMut() -> Attempt) -> Result<()> {
        let mut wait = self.options.backoff;
        let mut tries = 0;
        loop {
            match attempt() {
                Attempt::Done => return Ok(()),
                Attempt::Fatal(e) => return Err(e.with_path(self.path())),
                Attempt::Transient(e) if tries >= self.options.retries => {
                    return Err(Error::new(
                        e.kind(),
                        format!("{} (after {} attempts)", e.message(), tries + 1),
                    )
                    .with_path(self.path()));
                }
                Attempt::Transient(_) => {
                    std::thread::sleep(wait);
                    wait = wait.saturating_mul(2);
                    tries += 1;
                }
            }
        }
    }

    /// The first request: learns the size and fingerprint, returns the first bytes.
    fn first_request(&mut self) -> Result<Vec<u8>> {
        let want = self.options.first_request_bytes.max(1);
        let mut first = Vec::new();
        let mut fingerprint = None;
        self.with_retries(|| {
            let url = match self.location.request_url() {
                Ok(url) => url,
                Err(e) => return Attempt::Fatal(e),
            };
            let request = self
                .agent
                .get(url.as_ref())
                .header("Range", format!("bytes=0-{}", want - 1));
            let (status, mut response) = match self.send(request) {
                Ok(answer) => answer,
                Err(outcome) => return outcome,
            };
            if status == 416 {
                // An empty object: no byte 0 to ask for.
                let size = content_range_total(&response).unwrap_or(0);
                if size != 0 {
                    return Attempt::Fatal(Error::format(format!(
                        "the server refused the range 0-{} of an object of {size} bytes",
                        want - 1
                    )));
                }
                fingerprint = Some(fingerprint_of(&response, 0));
                first.clear();
                return Attempt::Done;
            }
            let (size, body_len) = match status {
                206 => match (content_range_total(&response), content_range(&response)) {
                    (Some(size), Some((0, last))) => (size, last + 1),
                    _ => {
                        return Attempt::Fatal(Error::format(
                            "the server's 206 answer has no usable Content-Range",
                        ));
                    }
                },
                // A server that ignores Range sends the whole object: take what we asked for.
                200 => match content_length(&response) {
                    Some(len) => (len, len),
                    None => {
                        return Attempt::Fatal(Error::unsupported(
                            "the server neither answers ranges nor gives the object's length",
                        ));
                    }
                },
                other => {
                    return Attempt::Fatal(Error::format(format!(
                        "unexpected HTTP status {other} for a range request"
                    )));
                }
            };
            let keep = body_len.min(want);
            let Ok(keep_len) = usize::try_from(keep) else {
                return Attempt::Fatal(Error::limit("the first range does not fit in memory"));
            };
            first.clear();
            first.resize(keep_len, 0);
            let mut reader = response.body_mut().as_reader();
            match read_exactly(&mut reader, &mut first) {
                Ok(()) => {}
                Err(e) => return Attempt::Transient(e),
            }
            self.counters.bytes.fetch_add(keep, Ordering::Relaxed);
            fingerprint = Some(fingerprint_of(&response, size));
            Attempt::Done
        })?;
        self.fingerprint = fingerprint.ok_or_else(|| {
            Error::format("the server sent no answer to read").with_path(self.path())
        })?;
        Ok(first)
    }

    /// Sends `request`, counting it: the status and answer, or the attempt's outcome for a
    /// transport failure or an error status.
    fn send(
        &self,
        request: ureq::RequestBuilder<ureq::typestate::WithoutBody>,
    ) -> std::result::Result<(u16, ureq::http::Response<ureq::Body>), Attempt> {
        self.counters.requests.fetch_add(1, Ordering::Relaxed);
        let response = request.call().map_err(transport_failure)?;
        let status = response.status().as_u16();
        match status_failure(status, &self.location) {
            Some(failed) => Err(failed),
            None => Ok((status, response)),
        }
    }

    fn attempt_range(&self, offset: u64, end: u64, buf: &mut [u8]) -> Attempt {
        let url = match self.location.request_url() {
            Ok(url) => url,
            Err(e) => return Attempt::Fatal(e),
        };
        let mut request = self
            .agent
            .get(url.as_ref())
            .header("Range", format!("bytes={offset}-{}", end - 1));
        if let Some(etag) = self
            .fingerprint
            .etag
            .as_ref()
            .filter(|e| !e.starts_with("W/"))
        {
            request = request.header("If-Match", etag);
        }
        let (status, mut response) = match self.send(request) {
            Ok(answer) => answer,
            Err(outcome) => return outcome,
        };
        let seen = fingerprint_of(
            &response,
            content_range_total(&response)
                .or_else(|| (status == 200).then(|| content_length(&response)).flatten())
                .unwrap_or(self.fingerprint.size),
        );
        if status == 412 || seen != self.fingerprint {
            return Attempt::Fatal(Error::stale(format!(
                "the object changed after it was opened (it was {} bytes, ETag {}, \
                 Last-Modified {}); load it again",
                self.fingerprint.size,
                self.fingerprint.etag.as_deref().unwrap_or("none"),
                self.fingerprint.last_modified.as_deref().unwrap_or("none"),
            )));
        }
        let range = content_range(&response);
        let mut reader = response.body_mut().as_reader();
        match status {
            206 if range == Some((offset, end - 1)) => {}
            // The whole object, from a server that ignores Range: skip to the range.
            200 => {
                if let Err(e) = std::io::copy(&mut (&mut reader).take(offset), &mut std::io::sink())
                {
                    return Attempt::Transient(Error::io(e));
                }
            }
            206 => {
                return Attempt::Fatal(Error::format(format!(
                    "the server answered another range than bytes {offset}-{}",
                    end - 1
                )));
            }
            other => {
                return Attempt::Fatal(Error::format(format!(
                    "unexpected HTTP status {other} for a range request"
                )));
            }
        }
        match read_exactly(&mut reader, buf) {
            Ok(()) => {
                self.counters
                    .bytes
                    .fetch_add(buf.len() as u64, Ordering::Relaxed);
                Attempt::Done
            }
            Err(e) => Attempt::Transient(e),
        }
    }
}

/// One GET of the object's last `len` bytes, without retries (the caller falls back to
/// ordinary reads): the answer, or `None` for any failure or an answer that is not the suffix
/// asked for (a server that ignores ranges, an empty object).
fn suffix_request(
    agent: &ureq::Agent,
    location: &RemoteLocation,
    counters: &Counters,
    len: u64,
) -> Option<SuffixAnswer> {
    counters.requests.fetch_add(1, Ordering::Relaxed);
    let request = agent
        .get(location.request_url().ok()?.as_ref())
        .header("Range", format!("bytes=-{len}"));
    let mut response = request.call().ok()?;
    if response.status().as_u16() != 206 {
        return None;
    }
    let total = content_range_total(&response)?;
    let (first, last) = content_range(&response)?;
    // At most `len` bytes, ending at the object's end: the allocation is ours, not the
    // server's, to size.
    if last.checked_add(1) != Some(total) || last - first >= len {
        return None;
    }
    let mut bytes = vec![0u8; usize::try_from(last - first + 1).ok()?];
    read_exactly(&mut response.body_mut().as_reader(), &mut bytes).ok()?;
    counters
        .bytes
        .fetch_add(bytes.len() as u64, Ordering::Relaxed);
    Some(SuffixAnswer {
        fingerprint: fingerprint_of(&response, total),
        start: first,
        bytes,
    })
}

/// Reads exactly `buf.len()` bytes; a body that ends early is an error (retried).
fn read_exactly(reader: &mut dyn Read, buf: &mut [u8]) -> Result<()> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => {
                return Err(Error::truncated(format!(
                    "the answer ended after {filled} of {} bytes",
                    buf.len()
                )));
            }
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(Error::io(e)),
        }
    }
    Ok(())
}

/// The attempt's outcome for an answer with an error status, if it has one.
fn status_failure(status: u16, location: &RemoteLocation) -> Option<Attempt> {
    use std::io::ErrorKind as K;
    let io = |kind: K, text: &str| Error::io(std::io::Error::new(kind, text.to_string()));
    let who = if location.is_signed() {
        "; the request was signed with the AWS credentials found"
    } else if location.as_str().to_ascii_lowercase().starts_with("s3://") {
        "; the request was anonymous: a private bucket needs AWS credentials \
         (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, a profile in ~/.aws, or an EC2 \
         instance role)"
    } else {
        ""
    };
    match status {
        404 | 410 => Some(Attempt::Fatal(io(K::NotFound, "no such object (HTTP 404)"))),
        401 | 403 => Some(Attempt::Fatal(io(
            K::PermissionDenied,
            &format!("access denied (HTTP {status}{who})"),
        ))),
        408 | 429 | 500..=599 => Some(Attempt::Transient(io(
            K::Other,
            &format!("the server answered HTTP {status}"),
        ))),
        _ => None,
    }
}

fn transport_failure(e: ureq::Error) -> Attempt {
    use ureq::Error as E;
    match e {
        E::Io(_) | E::Timeout(_) | E::ConnectionFailed | E::Protocol(_) => {
            Attempt::Transient(Error::io(std::io::Error::other(e.to_string())))
        }
        E::HostNotFound => Attempt::Fatal(Error::io(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            "host not found",
        ))),
        other => Attempt::Fatal(Error::io(std::io::Error::other(other.to_string()))),
    }
}

fn header<'a>(response: &'a ureq::http::Response<ureq::Body>, name: &str) -> Option<&'a str> {
    response.headers().get(name)?.to_str().ok()
}

fn content_length(response: &ureq::http::Response<ureq::Body>) -> Option<u64> {
    header(response, "content-length")?.trim().parse().ok()
}

/// `Content-Range: bytes FIRST-LAST/TOTAL` → (FIRST, LAST).
fn content_range(response: &ureq::http::Response<ureq::Body>) -> Option<(u64, u64)> {
    let value = header(response, "content-range")?.trim();
    let range = value.strip_prefix("bytes ")?.split('/').next()?;
    let (first, last) = range.split_once('-')?;
    let (first, last) = (first.trim().parse().ok()?, last.trim().parse().ok()?);
    (first <= last).then_some((first, last))
}

/// The TOTAL of `Content-Range: bytes …/TOTAL`.
fn content_range_total(response: &ureq::http::Response<ureq::Body>) -> Option<u64> {
    header(response, "content-range")?
        .rsplit('/')
        .next()?
        .trim()
        .parse()
        .ok()
}

fn fingerprint_of(response: &ureq::http::Response<ureq::Body>, size: u64) -> RemoteFingerprint {
    RemoteFingerprint {
        size,
        etag: header(response, "etag").map(str::to_string),
        last_modified: header(response, "last-modified").map(str::to_string),
    }
}
