//! A small, real HTTP/1.1 server on loopback (std only) for the integration tests of the
//! remote (HTTP range request) byte source. It exists so those tests run against a real server
//! over real sockets on 127.0.0.1, with no third-party process to install or start.
//!
//! It serves in-memory objects (`TestServer::put`) to GET and HEAD, answers single byte ranges
//! (`bytes=a-b`, `bytes=a-`, `bytes=-n`) with 206, honours `If-Match` (412) and `If-Range`, keeps
//! connections alive (one thread per connection), counts requests and body bytes, logs each
//! request's method, target and `Range`, and injects faults into the next GET
//! (`TestServer::fail_next`). HEAD ignores `Range` (RFC 9110: only GET has range semantics); a
//! `Range` it does not understand (another unit, several ranges, `b < a`) is ignored as well, so
//! the answer is a 200 with the whole object. HTTP/1.1 requests must carry `Host` (else 400), as
//! real servers require.

use std::collections::{HashMap, VecDeque};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::ops::Range;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// A request whose request line and headers together exceed this is answered 400.
const MAX_HEAD_BYTES: u64 = 64 * 1024;
/// A request with more header lines than this is answered 400.
const MAX_HEADERS: usize = 100;
/// Request bodies (none are expected) up to this size are read and discarded; larger ones are
/// answered 400.
const MAX_DISCARDED_BODY: u64 = 1 << 20;

/// The version in every ETag: one counter for the whole process, so no two `put`s (on any
/// server) give the same ETag.
static NEXT_VERSION: AtomicU64 = AtomicU64::new(1);

/// A real HTTP/1.1 server on 127.0.0.1 serving in-memory objects; stops when dropped.
pub struct TestServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    accept_thread: Option<JoinHandle<()>>,
}

/// A fault applied to one GET request (`TestServer::fail_next`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Answer the next GET with this status and a short plain-text body (e.g. 500, 503).
    Status(u16),
    /// Send the status line and headers of a correct answer, then half of the body, then close the connection.
    DropMidBody,
    /// Send correct headers (Content-Length of the full range) but only half the body, then keep the connection open for 0 s and close it.
    ShortBody,
    /// Sleep this long before answering (answer correctly afterwards if the client is still there).
    Stall(Duration),
}

/// What the accept thread and the connection threads share with the `TestServer`.
struct Shared {
    state: Mutex<State>,
    stop: AtomicBool,
    /// A clone of every open connection, so `Drop` can shut them down.
    connections: Mutex<HashMap<u64, TcpStream>>,
    next_connection: AtomicU64,
}

/// One entry of `TestServer::log`: method, request target, `Range` header value.
type LogEntry = (String, String, Option<String>);

#[derive(Default)]
struct State {
    objects: HashMap<String, Object>,
    faults: VecDeque<Fault>,
    requests: usize,
    bytes_served: u64,
    log: Vec<LogEntry>,
}

struct Object {
    bytes: Arc<Vec<u8>>,
    etag: String,
    modified_secs: u64,
    last_modified: String,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

impl TestServer {
    /// Binds 127.0.0.1:0 (a free port) and starts accepting connections on a thread of its own.
    pub fn start() -> TestServer {
        let listener =
            TcpListener::bind(("127.0.0.1", 0)).expect("bind 127.0.0.1:0 for the test HTTP server");
        let addr = listener
            .local_addr()
            .expect("the test HTTP server's local address");
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            stop: AtomicBool::new(false),
            connections: Mutex::new(HashMap::new()),
            next_connection: AtomicU64::new(0),
        });
        let accept_shared = Arc::clone(&shared);
        let accept_thread = thread::Builder::new()
            .name("test-http-accept".into())
            .spawn(move || accept_loop(listener, &accept_shared))
            .expect("spawn the test HTTP server's accept thread");
        TestServer {
            addr,
            shared,
            accept_thread: Some(accept_thread),
        }
    }

    /// The URL of object `name`: `http://127.0.0.1:{port}/{name}` (`name` is not percent-encoded,
    /// so keep names to letters, digits, `-`, `_`, `.` and `/`).
    pub fn url(&self, name: &str) -> String {
        format!("http://{}/{}", self.addr, name)
    }

    /// Creates or replaces object `name`. Every put gives the object a new ETag
    /// (`"v{n}-{len}"`, `n` from a process-wide counter) and a Last-Modified later than the
    /// object's previous one (the current second, or one second past the previous value when
    /// that is not later), so a replacement changes both validators.
    pub fn put(&self, name: &str, bytes: Vec<u8>) {
        let version = NEXT_VERSION.fetch_add(1, Ordering::Relaxed);
        let etag = format!("\"v{version}-{}\"", bytes.len());
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let mut state = lock(&self.shared.state);
        let modified_secs = match state.objects.get(name) {
            Some(previous) => now.max(previous.modified_secs + 1),
            None => now,
        };
        let object = Object {
            bytes: Arc::new(bytes),
            etag,
            modified_secs,
            last_modified: format_http_date(modified_secs),
        };
        state.objects.insert(name.to_owned(), object);
    }

    /// Requests answered (any method, any status, 400s for malformed requests included) since
    /// start or the last `reset_counts`. Counted before the answer is written, so a client that
    /// has read an answer sees it counted.
    pub fn requests(&self) -> usize {
        lock(&self.shared.state).requests
    }

    /// Body bytes written (accepted by the socket) since start or the last `reset_counts`;
    /// headers are not counted, and a faulted answer counts only the part it sent.
    pub fn bytes_served(&self) -> u64 {
        lock(&self.shared.state).bytes_served
    }

    /// Zeroes `requests` and `bytes_served` and empties `log`; objects and queued faults stay.
    pub fn reset_counts(&self) {
        let mut state = lock(&self.shared.state);
        state.requests = 0;
        state.bytes_served = 0;
        state.log.clear();
    }

    /// `(method, request target, Range header value)` of each answered request since start or
    /// the last `reset_counts`, in the order answered. The target is as sent (`/name`, with any
    /// query); a malformed request logs what could be read of its request line (maybe `""`).
    pub fn log(&self) -> Vec<(String, String, Option<String>)> {
        lock(&self.shared.state).log.clone()
    }

    /// Queues `fault` for the next GET request (well-formed GETs only, whatever their object or
    /// status; HEAD never takes one). Faults are taken first in, first out, one per GET, in the
    /// order GETs arrive on any connection.
    pub fn fail_next(&self, fault: Fault) {
        lock(&self.shared.state).faults.push_back(fault);
    }
}

impl Drop for TestServer {
    /// Stops accepting, closes the listening socket and shuts every open connection down (their
    /// threads then end on their own; a stalled one ends when its stall would have).
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        // Unblock `accept`; join only when that worked, so a failure cannot hang the test.
        let woke = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1)).is_ok();
        if let Some(handle) = self.accept_thread.take()
            && woke
        {
            let _ = handle.join();
        }
        for (_, connection) in lock(&self.shared.connections).drain() {
            let _ = connection.shutdown(Shutdown::Both);
        }
    }
}

fn accept_loop(listener: TcpListener, shared: &Arc<Shared>) {
    for incoming in listener.incoming() {
        if shared.stop.load(Ordering::SeqCst) {
            return;
        }
        let Ok(stream) = incoming else {
            // E.g. out of descriptors: do not spin.
            thread::sleep(Duration::from_millis(5));
            continue;
        };
        let id = shared.next_connection.fetch_add(1, Ordering::Relaxed);
        if let Ok(clone) = stream.try_clone() {
            lock(&shared.connections).insert(id, clone);
        }
        let connection_shared = Arc::clone(shared);
        let spawned = thread::Builder::new()
            .name(format!("test-http-conn-{id}"))
            .spawn(move || {
                serve_connection(stream, &connection_shared);
                lock(&connection_shared.connections).remove(&id);
            });
        if spawned.is_err() {
            // The stream went down with the closure; close the registered clone too.
            lock(&shared.connections).remove(&id);
        }
    }
}

/// A parsed request head.
struct Request {
    method: String,
    target: String,
    http10: bool,
    /// Header names in lower case, values trimmed, in the order received.
    headers: Vec<(String, String)>,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn has_token(&self, name: &str, token: &str) -> bool {
        self.headers
            .iter()
            .filter(|(n, _)| n == name)
            .flat_map(|(_, v)| v.split(','))
            .any(|t| t.trim().eq_ignore_ascii_case(token))
    }

    /// Whether the connection closes after this request's answer.
    fn wants_close(&self) -> bool {
        self.has_token("connection", "close")
            || (self.http10 && !self.has_token("connection", "keep-alive"))
    }
}

enum ReadOutcome {
    Request(Request),
    /// The client closed the connection (or it failed) between requests: nothing to answer.
    Closed,
    /// Answer 400 and close; method and target are what could be read (for the log).
    Malformed {
        method: String,
        target: String,
    },
}

enum Line {
    /// A line without its line ending (CRLF or a bare LF).
    Text(Vec<u8>),
    /// End of stream before a line ending.
    Eof,
    TooLong,
    Error,
}

fn read_line(reader: &mut BufReader<TcpStream>, budget: &mut u64) -> Line {
    let mut line = Vec::new();
    match reader.by_ref().take(*budget).read_until(b'\n', &mut line) {
        Err(_) => Line::Error,
        Ok(n) => {
            *budget = budget.saturating_sub(n as u64);
            if line.last() != Some(&b'\n') {
                if *budget == 0 {
                    Line::TooLong
                } else {
                    Line::Eof
                }
            } else {
                line.pop();
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                Line::Text(line)
            }
        }
    }
}

/// RFC 9110 `tchar`: the characters of methods and header names.
fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

fn read_request(reader: &mut BufReader<TcpStream>) -> ReadOutcome {
    let mut budget = MAX_HEAD_BYTES;
    let malformed = |method: &str, target: &str| ReadOutcome::Malformed {
        method: method.to_owned(),
        target: target.to_owned(),
    };
    // The request line; empty lines before it are ignored (RFC 9112 section 2.2).
    let line = loop {
        match read_line(reader, &mut budget) {
            Line::Text(line) if line.is_empty() => {}
            Line::Text(line) => break line,
            Line::Eof | Line::Error => return ReadOutcome::Closed,
            Line::TooLong => return malformed("", ""),
        }
    };
    let text = String::from_utf8_lossy(&line).into_owned();
    let parts: Vec<&str> = text.split(' ').collect();
    let method = parts.first().copied().unwrap_or("");
    let target = parts.get(1).copied().unwrap_or("");
    let version = match parts.as_slice() {
        [_, _, version] => *version,
        _ => return malformed(method, target),
    };
    let http10 = match version {
        "HTTP/1.1" => false,
        "HTTP/1.0" => true,
        _ => return malformed(method, target),
    };
    if std::str::from_utf8(&line).is_err() || !is_token(method) || target.is_empty() {
        return malformed(method, target);
    }

    let mut headers = Vec::new();
    loop {
        let line = match read_line(reader, &mut budget) {
            Line::Text(line) => line,
            // A head cut short: answer 400 (the client may still be reading).
            Line::Eof | Line::TooLong => return malformed(method, target),
            Line::Error => return ReadOutcome::Closed,
        };
        if line.is_empty() {
            break;
        }
        if headers.len() >= MAX_HEADERS || line[0] == b' ' || line[0] == b'\t' {
            // Too many headers, or an obsolete line folding.
            return malformed(method, target);
        }
        let line = String::from_utf8_lossy(&line);
        let Some((name, value)) = line.split_once(':') else {
            return malformed(method, target);
        };
        if !is_token(name) {
            return malformed(method, target);
        }
        let value = value.trim_matches([' ', '\t']).to_owned();
        headers.push((name.to_ascii_lowercase(), value));
    }
    let request = Request {
        method: method.to_owned(),
        target: target.to_owned(),
        http10,
        headers,
    };
    if !http10 && request.header("host").is_none() {
        return malformed(method, target);
    }

    // Requests have no bodies; read and discard one anyway so the connection stays in step.
    if request.header("transfer-encoding").is_some() {
        return malformed(method, target);
    }
    let mut body_len = None;
    for (_, value) in request
        .headers
        .iter()
        .filter(|(n, _)| n == "content-length")
    {
        let parsed = if value.bytes().all(|b| b.is_ascii_digit()) {
            value.parse::<u64>().ok()
        } else {
            None
        };
        match (parsed, body_len) {
            (Some(len), None) => body_len = Some(len),
            (Some(len), Some(previous)) if len == previous => {}
            _ => return malformed(method, target),
        }
    }
    let body_len = body_len.unwrap_or(0);
    if body_len > MAX_DISCARDED_BODY {
        return malformed(method, target);
    }
    if body_len > 0 {
        match io::copy(&mut reader.by_ref().take(body_len), &mut io::sink()) {
            Ok(n) if n == body_len => {}
            _ => return ReadOutcome::Closed,
        }
    }
    ReadOutcome::Request(request)
}

/// An answer: status, headers (besides the ones every answer gets), and the part of `body` to
/// send.
struct Response {
    status: u16,
    headers: Vec<(&'static str, String)>,
    body: Arc<Vec<u8>>,
    range: Range<usize>,
}

impl Response {
    /// A short plain-text answer (no body for the statuses that cannot have one).
    fn text(status: u16, text: &str) -> Response {
        let bodiless = status < 200 || status == 204 || status == 304;
        let body = if bodiless {
            Vec::new()
        } else {
            text.as_bytes().to_vec()
        };
        let len = body.len();
        Response {
            status,
            headers: vec![("Content-Type", "text/plain; charset=utf-8".to_owned())],
            body: Arc::new(body),
            range: 0..len,
        }
    }

    /// A plain-text answer carrying `object`'s validators.
    fn text_for(status: u16, text: &str, object: &Object) -> Response {
        let mut response = Response::text(status, text);
        response.headers.push(("ETag", object.etag.clone()));
        response
            .headers
            .push(("Last-Modified", object.last_modified.clone()));
        response
    }

    fn head(&self, close: bool) -> String {
        let mut head = format!("HTTP/1.1 {} {}\r\n", self.status, reason(self.status));
        head.push_str("Server: neurovox-test-http\r\n");
        head.push_str(&format!("Date: {}\r\n", format_http_date(now_secs())));
        for (name, value) in &self.headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str("Accept-Ranges: bytes\r\n");
        head.push_str(&format!("Content-Length: {}\r\n", self.range.len()));
        if close {
            head.push_str("Connection: close\r\n");
        }
        head.push_str("\r\n");
        head
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        204 => "No Content",
        206 => "Partial Content",
        304 => "Not Modified",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        412 => "Precondition Failed",
        416 => "Range Not Satisfiable",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Status",
    }
}

/// A `Range` header, against an object of a given length.
#[derive(Debug, PartialEq, Eq)]
pub enum RangeSpec {
    /// Not a single byte range this server understands: answer as if there were no `Range`.
    Ignore,
    /// Starts at or past the end (or a zero-length suffix): 416.
    Unsatisfiable,
    /// Bytes `first..=last`, clamped to the object.
    Bytes(usize, usize),
}

pub fn parse_range(value: &str, total: usize) -> RangeSpec {
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    // All digits, so a parse can fail only by overflow: that is "more than any object".
    let number = |s: &str| s.parse::<u64>().unwrap_or(u64::MAX);
    let Some((unit, set)) = value.trim().split_once('=') else {
        return RangeSpec::Ignore;
    };
    if !unit.trim().eq_ignore_ascii_case("bytes") || set.contains(',') {
        return RangeSpec::Ignore;
    }
    let Some((first, last)) = set.split_once('-') else {
        return RangeSpec::Ignore;
    };
    let (first, last) = (first.trim(), last.trim());
    let total64 = total as u64;
    if first.is_empty() {
        if !digits(last) {
            return RangeSpec::Ignore;
        }
        let suffix = number(last);
        if suffix == 0 || total == 0 {
            return RangeSpec::Unsatisfiable;
        }
        let suffix = suffix.min(total64) as usize;
        return RangeSpec::Bytes(total - suffix, total - 1);
    }
    if !digits(first) || !(last.is_empty() || digits(last)) {
        return RangeSpec::Ignore;
    }
    let start = number(first);
    let end = if last.is_empty() {
        u64::MAX
    } else {
        number(last)
    };
    if end < start {
        return RangeSpec::Ignore;
    }
    if start >= total64 {
        return RangeSpec::Unsatisfiable;
    }
    RangeSpec::Bytes(start as usize, end.min(total64 - 1) as usize)
}

/// Whether an `If-Match` (or strong `If-Range`) value matches `etag`: `*`, or one of a
/// comma-separated list compared strongly (a weak `W/"…"` tag never matches).
fn etag_matches(value: &str, etag: &str) -> bool {
    value.trim() == "*" || value.split(',').any(|tag| tag.trim() == etag)
}

/// The correct answer to a well-formed request, under the state lock.
fn respond(state: &State, request: &Request) -> Response {
    let get = request.method == "GET";
    if !get && request.method != "HEAD" {
        let mut response = Response::text(405, "method not allowed\n");
        response.headers.push(("Allow", "GET, HEAD".to_owned()));
        return response;
    }
    let Some(path) = request.target.strip_prefix('/') else {
        return Response::text(400, "the request target must start with /\n");
    };
    let name = path.split_once('?').map_or(path, |(name, _query)| name);
    if name.starts_with("forbidden/") {
        return Response::text(403, "forbidden\n");
    }
    let Some(object) = state.objects.get(name) else {
        return Response::text(404, "no such object\n");
    };
    if let Some(if_match) = request.header("if-match")
        && !etag_matches(if_match, &object.etag)
    {
        return Response::text_for(412, "precondition failed\n", object);
    }
    let total = object.bytes.len();
    let mut range = if get { request.header("range") } else { None };
    if let Some(if_range) = request.header("if-range") {
        let current = if_range.trim() == object.last_modified || if_range.trim() == object.etag;
        if !current {
            range = None;
        }
    }
    let mut response = Response {
        status: 200,
        headers: vec![
            ("Content-Type", "application/octet-stream".to_owned()),
            ("ETag", object.etag.clone()),
            ("Last-Modified", object.last_modified.clone()),
        ],
        body: Arc::clone(&object.bytes),
        range: 0..total,
    };
    match range.map_or(RangeSpec::Ignore, |value| parse_range(value, total)) {
        RangeSpec::Ignore => {}
        RangeSpec::Unsatisfiable => {
            response = Response::text_for(416, "range not satisfiable\n", object);
            response
                .headers
                .push(("Content-Range", format!("bytes */{total}")));
        }
        RangeSpec::Bytes(first, last) => {
            response.status = 206;
            response
                .headers
                .push(("Content-Range", format!("bytes {first}-{last}/{total}")));
            response.range = first..last + 1;
        }
    }
    response
}

/// Sleeps `duration`, waking early when the server stops.
fn stall(shared: &Shared, duration: Duration) {
    let deadline = Instant::now() + duration;
    while !shared.stop.load(Ordering::SeqCst) {
        let now = Instant::now();
        if now >= deadline {
            return;
        }
        thread::sleep((deadline - now).min(Duration::from_millis(10)));
    }
}

/// Writes the head, then `body`; returns how many body bytes the socket accepted.
fn write_answer(writer: &mut TcpStream, head: &[u8], body: &[u8]) -> usize {
    if writer.write_all(head).is_err() {
        return 0;
    }
    let mut written = 0;
    while written < body.len() {
        match writer.write(&body[written..]) {
            Ok(0) => break,
            Ok(n) => written += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => break,
        }
    }
    written
}

/// Closes after a final answer without losing it: send FIN, then read (and drop) what the
/// client still sends for a little while, so unread input does not turn the close into a reset
/// that could discard the answer on the client's side.
fn linger_close(writer: &TcpStream, reader: &mut BufReader<TcpStream>) {
    let _ = writer.shutdown(Shutdown::Write);
    let _ = writer.set_read_timeout(Some(Duration::from_millis(100)));
    let deadline = Instant::now() + Duration::from_millis(500);
    let mut sink = [0u8; 4096];
    while Instant::now() < deadline {
        match reader.read(&mut sink) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
    }
}

/// Answers requests on one connection until the client closes it, asks to close, sends a
/// malformed request, a fault closes it, or the server stops.
fn serve_connection(stream: TcpStream, shared: &Shared) {
    let _ = stream.set_nodelay(true);
    let Ok(read_half) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(read_half);
    let mut writer = stream;
    loop {
        if shared.stop.load(Ordering::SeqCst) {
            return;
        }
        let request = match read_request(&mut reader) {
            ReadOutcome::Request(request) => request,
            ReadOutcome::Closed => return,
            ReadOutcome::Malformed { method, target } => {
                let response = Response::text(400, "malformed request\n");
                let body = &response.body[response.range.clone()];
                {
                    let mut state = lock(&shared.state);
                    state.requests += 1;
                    state.bytes_served += body.len() as u64;
                    state.log.push((method, target, None));
                }
                let written = write_answer(&mut writer, response.head(true).as_bytes(), body);
                uncount(shared, body.len() - written);
                linger_close(&writer, &mut reader);
                return;
            }
        };

        let fault = if request.method == "GET" {
            lock(&shared.state).faults.pop_front()
        } else {
            None
        };
        if let Some(Fault::Stall(duration)) = fault {
            stall(shared, duration);
            if shared.stop.load(Ordering::SeqCst) {
                return;
            }
        }
        let close = request.wants_close();
        let (head, body, send_range) = {
            let mut state = lock(&shared.state);
            let mut response = respond(&state, &request);
            if let Some(Fault::Status(status)) = fault {
                response = Response::text(
                    status,
                    &format!("injected fault: {status} {}\n", reason(status)),
                );
            }
            let full = if request.method == "HEAD" {
                0
            } else {
                response.range.len()
            };
            let send = match fault {
                Some(Fault::DropMidBody | Fault::ShortBody) => full / 2,
                _ => full,
            };
            // Counted before writing, so a client that has read the answer sees it counted.
            state.requests += 1;
            state.bytes_served += send as u64;
            let range = request.header("range").map(str::to_owned);
            state
                .log
                .push((request.method.clone(), request.target.clone(), range));
            let start = response.range.start;
            (response.head(close), response.body, start..start + send)
        };
        let send = &body[body_range(&body, send_range)];
        let written = write_answer(&mut writer, head.as_bytes(), send);
        if written < send.len() {
            uncount(shared, send.len() - written);
            return;
        }
        match fault {
            Some(Fault::DropMidBody) => {
                let _ = writer.shutdown(Shutdown::Both);
                return;
            }
            Some(Fault::ShortBody) => {
                let _ = writer.shutdown(Shutdown::Write);
                return;
            }
            _ => {}
        }
        if close {
            linger_close(&writer, &mut reader);
            return;
        }
    }
}

/// `range` clamped to `body` (it always fits; this only keeps indexing panic-free).
fn body_range(body: &[u8], range: Range<usize>) -> Range<usize> {
    let end = range.end.min(body.len());
    range.start.min(end)..end
}

/// Takes back body bytes counted in `bytes_served` that the socket did not accept.
fn uncount(shared: &Shared, unwritten: usize) {
    if unwritten > 0 {
        let mut state = lock(&shared.state);
        state.bytes_served = state.bytes_served.saturating_sub(unwritten as u64);
    }
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// An HTTP-date (RFC 9110 IMF-fixdate), e.g. `Sun, 06 Nov 1994 08:49:37 GMT`.
fn format_http_date(unix_secs: u64) -> String {
    const WEEKDAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let days = unix_secs / 86_400;
    let secs = unix_secs % 86_400;
    // Howard Hinnant's civil_from_days, for days since 1970-01-01 (a Thursday).
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    format!(
        "{}, {day:02} {} {year} {:02}:{:02}:{:02} GMT",
        WEEKDAYS[(days % 7) as usize],
        MONTHS[(month - 1) as usize],
        secs / 3_600,
        secs / 60 % 60,
        secs % 60,
    )
}

mod self_tests {
    use super::*;

    /// A raw HTTP/1.1 client connection to a `TestServer`.
    struct Client {
        reader: BufReader<TcpStream>,
        writer: TcpStream,
        authority: String,
    }

    /// An answer as the client read it.
    struct Reply {
        status: u16,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    }

    impl Reply {
        fn header(&self, name: &str) -> Option<&str> {
            self.headers
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_str())
        }

        fn content_length(&self) -> usize {
            self.header("content-length")
                .expect("Content-Length")
                .parse()
                .expect("a numeric Content-Length")
        }
    }

    impl Client {
        fn connect(server: &TestServer) -> Client {
            let url = server.url("");
            let authority = url
                .strip_prefix("http://")
                .and_then(|rest| rest.strip_suffix('/'))
                .expect("url() is http://host:port/name")
                .to_owned();
            let writer = TcpStream::connect(&authority).expect("connect to the test server");
            writer
                .set_read_timeout(Some(Duration::from_secs(5)))
                .expect("read timeout");
            let reader = BufReader::new(writer.try_clone().expect("clone the client socket"));
            Client {
                reader,
                writer,
                authority,
            }
        }

        fn send_raw(&mut self, raw: &[u8]) {
            self.writer.write_all(raw).expect("send a request");
        }

        /// Sends `method path` with `headers` (and Host) and reads the whole answer.
        fn request(&mut self, method: &str, path: &str, headers: &[(&str, &str)]) -> Reply {
            let mut raw = format!("{method} {path} HTTP/1.1\r\nHost: {}\r\n", self.authority);
            for (name, value) in headers {
                raw.push_str(&format!("{name}: {value}\r\n"));
            }
            raw.push_str("\r\n");
            self.send_raw(raw.as_bytes());
            let mut reply = self.read_head();
            if method != "HEAD" {
                reply.body = vec![0; reply.content_length()];
                self.reader.read_exact(&mut reply.body).expect("the body");
            }
            reply
        }

        fn get(&mut self, path: &str, headers: &[(&str, &str)]) -> Reply {
            self.request("GET", path, headers)
        }

        /// Reads a status line and headers, leaving the body unread.
        fn read_head(&mut self) -> Reply {
            let mut line = String::new();
            self.reader.read_line(&mut line).expect("a status line");
            let status = line
                .split(' ')
                .nth(1)
                .and_then(|s| s.parse().ok())
                .unwrap_or_else(|| panic!("a status line, got {line:?}"));
            let mut headers = Vec::new();
            loop {
                let mut line = String::new();
                self.reader.read_line(&mut line).expect("a header line");
                let line = line.trim_end_matches(['\r', '\n']);
                if line.is_empty() {
                    break;
                }
                let (name, value) = line.split_once(':').expect("name: value");
                headers.push((name.to_owned(), value.trim().to_owned()));
            }
            Reply {
                status,
                headers,
                body: Vec::new(),
            }
        }

        /// Reads until the server closes the connection.
        fn read_to_close(&mut self) -> Vec<u8> {
            let mut rest = Vec::new();
            self.reader.read_to_end(&mut rest).expect("read until EOF");
            rest
        }
    }

    fn path_of(server: &TestServer, name: &str) -> String {
        let url = server.url(name);
        let after_scheme = url.strip_prefix("http://").expect("http URL");
        after_scheme[after_scheme.find('/').expect("a path")..].to_owned()
    }

    fn pattern(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 7 + i / 256) as u8).collect()
    }

    #[test]
    fn ranges_answer_206_with_the_bytes_on_one_connection() {
        let server = TestServer::start();
        let data = pattern(1000);
        server.put("dir/a.bin", data.clone());
        let path = path_of(&server, "dir/a.bin");
        let mut client = Client::connect(&server);

        let reply = client.get(&path, &[("Range", "bytes=100-199")]);
        assert_eq!(reply.status, 206);
        assert_eq!(reply.header("content-range"), Some("bytes 100-199/1000"));
        assert_eq!(reply.header("accept-ranges"), Some("bytes"));
        assert_eq!(reply.content_length(), 100);
        assert!(reply.header("etag").is_some_and(|e| e.starts_with("\"v")));
        assert!(
            reply
                .header("last-modified")
                .is_some_and(|d| d.ends_with(" GMT"))
        );
        assert_eq!(reply.body, &data[100..200]);

        let reply = client.get(&path, &[("range", "bytes=990-5000")]);
        assert_eq!(reply.status, 206);
        assert_eq!(reply.header("content-range"), Some("bytes 990-999/1000"));
        assert_eq!(reply.body, &data[990..]);

        let reply = client.get(&path, &[("RANGE", "bytes=995-")]);
        assert_eq!(reply.status, 206);
        assert_eq!(reply.header("content-range"), Some("bytes 995-999/1000"));
        assert_eq!(reply.body, &data[995..]);

        let reply = client.get(&path, &[]);
        assert_eq!(reply.status, 200);
        assert_eq!(reply.header("content-range"), None);
        assert_eq!(reply.body, data);

        // Two ranges, or another unit: ignored, the whole object.
        let reply = client.get(&path, &[("Range", "bytes=0-1,5-6")]);
        assert_eq!((reply.status, reply.body.len()), (200, 1000));
        let reply = client.get(&path, &[("Range", "items=0-1")]);
        assert_eq!((reply.status, reply.body.len()), (200, 1000));
    }

    #[test]
    fn suffix_ranges() {
        let server = TestServer::start();
        let data = pattern(1000);
        server.put("s", data.clone());
        let mut client = Client::connect(&server);
        let reply = client.get("/s", &[("Range", "bytes=-10")]);
        assert_eq!(reply.status, 206);
        assert_eq!(reply.header("content-range"), Some("bytes 990-999/1000"));
        assert_eq!(reply.body, &data[990..]);
        let reply = client.get("/s", &[("Range", "bytes=-5000")]);
        assert_eq!(reply.status, 206);
        assert_eq!(reply.header("content-range"), Some("bytes 0-999/1000"));
        assert_eq!(reply.body, data);
        let reply = client.get("/s", &[("Range", "bytes=-0")]);
        assert_eq!(reply.status, 416);
    }

    #[test]
    fn head_sends_headers_only_and_ignores_range() {
        let server = TestServer::start();
        server.put("h", pattern(300));
        let mut client = Client::connect(&server);
        let reply = client.request("HEAD", "/h", &[("Range", "bytes=0-9")]);
        assert_eq!(reply.status, 200);
        assert_eq!(reply.content_length(), 300);
        assert!(reply.header("etag").is_some());
        // No body came: the next answer on the connection starts right away.
        let reply = client.get("/h", &[("Range", "bytes=0-9")]);
        assert_eq!((reply.status, reply.body.len()), (206, 10));
        assert_eq!(server.bytes_served(), 10);
    }

    #[test]
    fn missing_forbidden_and_other_methods() {
        let server = TestServer::start();
        server.put("forbidden/there", vec![1, 2, 3]);
        server.put("here", vec![1, 2, 3]);
        let mut client = Client::connect(&server);
        assert_eq!(client.get("/nothing", &[]).status, 404);
        assert_eq!(client.get("/forbidden/there", &[]).status, 403);
        assert_eq!(client.get("/forbidden/absent", &[]).status, 403);
        let reply = client.request("POST", "/here", &[]);
        assert_eq!(reply.status, 405);
        assert_eq!(reply.header("allow"), Some("GET, HEAD"));
        assert_eq!(client.get("/here", &[]).body, [1, 2, 3]);
    }

    #[test]
    fn range_starting_at_or_past_the_end_is_416() {
        let server = TestServer::start();
        server.put("o", pattern(1000));
        server.put("empty", Vec::new());
        let mut client = Client::connect(&server);
        let reply = client.get("/o", &[("Range", "bytes=1000-")]);
        assert_eq!(reply.status, 416);
        assert_eq!(reply.header("content-range"), Some("bytes */1000"));
        let reply = client.get("/o", &[("Range", "bytes=5000-6000")]);
        assert_eq!(reply.status, 416);
        let reply = client.get("/empty", &[("Range", "bytes=0-")]);
        assert_eq!(reply.status, 416);
        assert_eq!(reply.header("content-range"), Some("bytes */0"));
        let reply = client.get("/empty", &[]);
        assert_eq!((reply.status, reply.body.len()), (200, 0));
    }

    #[test]
    fn if_match_fails_after_a_replacement() {
        let server = TestServer::start();
        server.put("v", pattern(100));
        let mut client = Client::connect(&server);
        let first = client.request("HEAD", "/v", &[]);
        let old_etag = first.header("etag").expect("ETag").to_owned();
        let old_modified = first
            .header("last-modified")
            .expect("Last-Modified")
            .to_owned();
        server.put("v", pattern(200));
        let reply = client.get("/v", &[("If-Match", &old_etag), ("Range", "bytes=0-9")]);
        assert_eq!(reply.status, 412);
        let second = client.request("HEAD", "/v", &[]);
        let new_etag = second.header("etag").expect("ETag").to_owned();
        assert_ne!(new_etag, old_etag);
        assert_ne!(second.header("last-modified"), Some(old_modified.as_str()));
        let reply = client.get("/v", &[("if-match", &new_etag), ("Range", "bytes=0-9")]);
        assert_eq!(reply.status, 206);
        assert_eq!(reply.header("content-range"), Some("bytes 0-9/200"));
        let reply = client.get("/v", &[("If-Match", "*")]);
        assert_eq!((reply.status, reply.body.len()), (200, 200));
        // A stale If-Range gives the whole, current object.
        let reply = client.get("/v", &[("If-Range", &old_etag), ("Range", "bytes=0-9")]);
        assert_eq!((reply.status, reply.body.len()), (200, 200));
    }

    #[test]
    fn status_fault_applies_once_and_only_to_get() {
        let server = TestServer::start();
        server.put("f", pattern(50));
        let mut client = Client::connect(&server);
        server.fail_next(Fault::Status(500));
        let reply = client.get("/f", &[("Range", "bytes=0-9")]);
        assert_eq!(reply.status, 500);
        assert!(!reply.body.is_empty());
        assert_eq!(client.get("/f", &[]).status, 200);
        server.fail_next(Fault::Status(503));
        assert_eq!(client.request("HEAD", "/f", &[]).status, 200);
        assert_eq!(client.get("/f", &[]).status, 503);
        assert_eq!(client.get("/f", &[]).status, 200);
    }

    #[test]
    fn dropped_and_short_bodies_deliver_less_than_content_length() {
        let server = TestServer::start();
        let data = pattern(1000);
        server.put("d", data.clone());
        for fault in [Fault::DropMidBody, Fault::ShortBody] {
            server.reset_counts();
            server.fail_next(fault);
            let mut client = Client::connect(&server);
            client.send_raw(b"GET /d HTTP/1.1\r\nHost: x\r\nRange: bytes=0-99\r\n\r\n");
            let reply = client.read_head();
            assert_eq!(reply.status, 206, "{fault:?}");
            assert_eq!(reply.content_length(), 100);
            let body = client.read_to_close();
            assert_eq!(body, &data[..50], "{fault:?}");
            assert_eq!(server.bytes_served(), 50);
            // The next request, on a new connection, is answered in full.
            let mut client = Client::connect(&server);
            assert_eq!(client.get("/d", &[]).body, data);
        }
    }

    #[test]
    fn stall_delays_the_answer() {
        let server = TestServer::start();
        server.put("slow", pattern(10));
        let mut client = Client::connect(&server);
        server.fail_next(Fault::Stall(Duration::from_millis(150)));
        let started = Instant::now();
        let reply = client.get("/slow", &[]);
        assert!(started.elapsed() >= Duration::from_millis(150));
        assert_eq!((reply.status, reply.body), (200, pattern(10)));
    }

    #[test]
    fn counts_and_log() {
        let server = TestServer::start();
        server.put("c", pattern(100));
        let mut client = Client::connect(&server);
        client.get("/c", &[]);
        assert_eq!((server.requests(), server.bytes_served()), (1, 100));
        server.reset_counts();
        assert_eq!((server.requests(), server.bytes_served()), (0, 0));
        assert!(server.log().is_empty());
        client.get("/c", &[("Range", "bytes=10-19")]);
        client.request("HEAD", "/c", &[]);
        client.get("/missing", &[]);
        assert_eq!(server.requests(), 3);
        assert_eq!(server.bytes_served(), 10 + "no such object\n".len() as u64);
        let expected = [
            ("GET", "/c", Some("bytes=10-19")),
            ("HEAD", "/c", None),
            ("GET", "/missing", None),
        ];
        let log = server.log();
        assert_eq!(log.len(), expected.len());
        for ((method, path, range), (m, p, r)) in log.iter().zip(expected) {
            assert_eq!(
                (method.as_str(), path.as_str(), range.as_deref()),
                (m, p, r)
            );
        }
    }

    #[test]
    fn malformed_requests_get_400_and_close() {
        let server = TestServer::start();
        server.put("m", pattern(10));
        let cases: [&[u8]; 5] = [
            b"GARBAGE\r\n\r\n",
            b"GET /m HTTP/1.1\r\nHost: x\r\nno colon here\r\n\r\n",
            b"GET /m HTTP/1.1\r\n\r\n",
            b"GET /m HTTP/9.9\r\nHost: x\r\n\r\n",
            b"GET /m HTTP/1.1\r\nHost: \xff\xfe\r\nContent-Length: nope\r\n\r\n",
        ];
        for raw in cases {
            let mut client = Client::connect(&server);
            client.send_raw(raw);
            let reply = client.read_head();
            assert_eq!(reply.status, 400, "{:?}", String::from_utf8_lossy(raw));
            assert_eq!(reply.header("connection"), Some("close"));
            assert_eq!(client.read_to_close().len(), reply.content_length());
        }
        assert_eq!(server.requests(), cases.len());
        assert_eq!(server.log()[0].0, "GARBAGE");
    }

    #[test]
    fn connection_close_is_honoured() {
        let server = TestServer::start();
        server.put("k", pattern(10));
        let mut client = Client::connect(&server);
        let reply = client.get("/k", &[("Connection", "close")]);
        assert_eq!(reply.header("connection"), Some("close"));
        assert_eq!(reply.body, pattern(10));
        assert!(client.read_to_close().is_empty());
    }

    #[test]
    fn drop_closes_open_connections_without_hanging() {
        let server = TestServer::start();
        server.put("z", pattern(10));
        let mut client = Client::connect(&server);
        assert_eq!(client.get("/z", &[]).status, 200);
        let started = Instant::now();
        drop(server);
        assert!(started.elapsed() < Duration::from_secs(1));
        assert!(client.read_to_close().is_empty());
    }

    #[test]
    fn http_dates() {
        assert_eq!(
            format_http_date(784_111_777),
            "Sun, 06 Nov 1994 08:49:37 GMT"
        );
        assert_eq!(format_http_date(0), "Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(
            format_http_date(951_782_400),
            "Tue, 29 Feb 2000 00:00:00 GMT"
        );
    }

    #[test]
    fn range_parsing() {
        assert_eq!(parse_range("bytes=0-0", 1), RangeSpec::Bytes(0, 0));
        assert_eq!(parse_range(" bytes = 2 - 3 ", 10), RangeSpec::Bytes(2, 3));
        assert_eq!(parse_range("bytes=5-2", 10), RangeSpec::Ignore);
        assert_eq!(parse_range("bytes=-", 10), RangeSpec::Ignore);
        assert_eq!(parse_range("bytes=x-1", 10), RangeSpec::Ignore);
        assert_eq!(
            parse_range("bytes=0-99999999999999999999999", 10),
            RangeSpec::Bytes(0, 9)
        );
        assert_eq!(
            parse_range("bytes=99999999999999999999999-", 10),
            RangeSpec::Unsatisfiable
        );
    }
}
