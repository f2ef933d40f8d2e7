//! The AWS credentials an `s3://` request is signed with, from whichever source the settings
//! found (`aws` module): keys given outright, a profile's `credential_process` (a command
//! that prints them, as SSO helpers and vaults provide), or the container credentials
//! endpoint that ECS tasks and EKS Pod Identity give a workload
//! (`AWS_CONTAINER_CREDENTIALS_RELATIVE_URI` / `_FULL_URI`). The last two are temporary: they
//! are fetched at the first signed request, kept for the process, and fetched again five
//! minutes before they expire, so a proxy read for hours on a Dask worker keeps working.
//!
//! A few dozen lines over `ureq` (already here for remote reads), `serde_json` and `shlex`
//! (both already in the workspace's lock file): the AWS SDK for Rust (`aws-config`) would
//! bring tokio, hyper and its own HTTP stack to a synchronous library, for two sources.

use super::sigv4::Credentials;
use crate::error::{Error, Result};
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How long before their expiry temporary credentials are fetched again (what the AWS SDKs
/// allow, so that a request signed now is still valid when the server checks it).
const REFRESH_BEFORE_EXPIRY: Duration = Duration::from_secs(5 * 60);

/// How long the container endpoint may take to answer (it is on the same host or link).
const ENDPOINT_TIMEOUT: Duration = Duration::from_secs(5);

/// How long a `credential_process` may run before it is killed: a helper that waits for a
/// login would otherwise hold every signed read of the process.
const PROCESS_TIMEOUT: Duration = Duration::from_secs(60);

/// Where an `s3://` URL's credentials come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum CredentialSource {
    /// Keys given outright: the environment, or a profile's `aws_access_key_id`.
    Static(Credentials),
    /// A profile's `credential_process`: the command (split as a shell would, run without
    /// one, as the AWS CLI runs it) prints JSON credentials.
    Process {
        command: String,
        /// The profile that names it, for messages.
        profile: String,
    },
    /// The container credentials endpoint, with the `Authorization` header it wants.
    Container {
        url: String,
        authorization: Option<ContainerToken>,
    },
}

/// The `Authorization` value the container endpoint wants: given, or read from a file each
/// time (EKS rotates it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ContainerToken {
    Value(String),
    File(PathBuf),
}

/// Temporary credentials fetched so far, by source, with their expiry.
static FETCHED: Mutex<Vec<(CredentialSource, Credentials, Option<SystemTime>)>> =
    Mutex::new(Vec::new());

impl CredentialSource {
    /// The credentials to sign a request with now: the static keys, or the fetched ones while
    /// they are valid for five more minutes, else fetched (again). Errors (Io) name the source
    /// and what went wrong.
    pub(crate) fn current(&self) -> Result<Credentials> {
        if let CredentialSource::Static(credentials) = self {
            return Ok(credentials.clone());
        }
        let now = SystemTime::now();
        let fresh = |expiry: &Option<SystemTime>| {
            expiry.is_none_or(|e| {
                e.duration_since(now)
                    .is_ok_and(|d| d > REFRESH_BEFORE_EXPIRY)
            })
        };
        let mut fetched = FETCHED.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((_, credentials, _)) = fetched
            .iter()
            .find(|(source, _, expiry)| source == self && fresh(expiry))
        {
            return Ok(credentials.clone());
        }
        // Fetched under the lock: concurrent first requests run the command once.
        let (credentials, expiry) = self.fetch()?;
        fetched.retain(|(source, _, _)| source != self);
        fetched.push((self.clone(), credentials.clone(), expiry));
        Ok(credentials)
    }

    /// The source's credentials as it gives them now, with their expiry (static keys never
    /// expire).
    fn fetch(&self) -> Result<(Credentials, Option<SystemTime>)> {
        match self {
            CredentialSource::Static(credentials) => Ok((credentials.clone(), None)),
            CredentialSource::Process { command, profile } => {
                run_process(command, profile, PROCESS_TIMEOUT)
            }
            CredentialSource::Container { url, authorization } => {
                fetch_container(url, authorization.as_ref())
            }
        }
    }
}

/// Runs a `credential_process` command and reads the credentials it prints; killed after
/// `timeout`.
fn run_process(
    command: &str,
    profile: &str,
    timeout: Duration,
) -> Result<(Credentials, Option<SystemTime>)> {
    let failed = |what: String| {
        Error::io(std::io::Error::other(format!(
            "the credential_process of AWS profile {profile:?} ({command}) {what}"
        )))
    };
    let words = shlex::split(command).filter(|w| !w.is_empty());
    let Some((program, args)) = words.as_ref().and_then(|w| w.split_first()) else {
        return Err(failed("is not a command line".into()));
    };
    let output = output_within(
        std::process::Command::new(program)
            .args(args)
            .stdin(std::process::Stdio::null()),
        timeout,
    )
    .map_err(failed)?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let first = stderr.lines().next().unwrap_or("").trim();
        return Err(failed(format!("failed ({}): {first}", output.status)));
    }
    let json: serde_json::Value = serde_json::from_slice(&output.stdout)
        .map_err(|e| failed(format!("printed no JSON: {e}")))?;
    if json["Version"].as_u64() != Some(1) {
        return Err(failed("printed no \"Version\": 1".into()));
    }
    credentials_of(&json, "SessionToken").map_err(|what| failed(format!("printed {what}")))
}

/// The output of `command`, killed (and an error) if it has not finished within `timeout`.
/// Its output is read on threads of its own while it runs, so a full pipe never stalls it.
fn output_within(
    command: &mut std::process::Command,
    timeout: Duration,
) -> std::result::Result<std::process::Output, String> {
    use std::io::Read;
    use std::process::Stdio;
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("could not be run: {e}"))?;
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_end(&mut bytes);
            }
            bytes
        })
    };
    let stdout = drain(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let stderr = drain(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let deadline = std::time::Instant::now() + timeout;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if std::time::Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(5));
            }
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("did not finish within {} s", timeout.as_secs_f64()));
            }
            Err(e) => return Err(format!("could not be waited for: {e}")),
        }
    };
    Ok(std::process::Output {
        status,
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
    })
}

/// Asks the container credentials endpoint for the task's or pod's credentials.
fn fetch_container(
    url: &str,
    authorization: Option<&ContainerToken>,
) -> Result<(Credentials, Option<SystemTime>)> {
    let failed = |what: String| {
        Error::io(std::io::Error::other(format!(
            "the container credentials endpoint {url} {what}"
        )))
    };
    let token = match authorization {
        None => None,
        Some(ContainerToken::Value(value)) => Some(value.clone()),
        Some(ContainerToken::File(path)) => Some(
            std::fs::read_to_string(path)
                .map_err(|e| failed(format!("needs the token in {}: {e}", path.display())))?
                .trim()
                .to_owned(),
        ),
    };
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(ENDPOINT_TIMEOUT))
        .http_status_as_error(false)
        .build()
        .into();
    let mut request = agent.get(url);
    if let Some(token) = &token {
        request = request.header("Authorization", token);
    }
    let mut response = request
        .call()
        .map_err(|e| failed(format!("did not answer: {e}")))?;
    let status = response.status().as_u16();
    // The answer is a few hundred bytes; more is not credentials.
    let body = response
        .body_mut()
        .with_config()
        .limit(64 * 1024)
        .read_to_vec()
        .map_err(|e| failed(format!("answered unreadably: {e}")))?;
    if status != 200 {
        let text = String::from_utf8_lossy(&body);
        return Err(failed(format!("answered HTTP {status}: {}", text.trim())));
    }
    let json: serde_json::Value =
        serde_json::from_slice(&body).map_err(|e| failed(format!("answered no JSON: {e}")))?;
    credentials_of(&json, "Token").map_err(|what| failed(format!("answered {what}")))
}

/// The credentials in an AWS credentials JSON object (`AccessKeyId`, `SecretAccessKey`, the
/// token under `token_key`, an optional RFC 3339 `Expiration`), or what is wrong with it.
fn credentials_of(
    json: &serde_json::Value,
    token_key: &str,
) -> std::result::Result<(Credentials, Option<SystemTime>), String> {
    let text = |key: &str| {
        json[key]
            .as_str()
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    };
    let (Some(key_id), Some(secret)) = (text("AccessKeyId"), text("SecretAccessKey")) else {
        return Err("no AccessKeyId and SecretAccessKey".into());
    };
    let expiry = match text("Expiration") {
        None => None,
        Some(stamp) => Some(
            parse_rfc3339(&stamp).ok_or_else(|| format!("an unreadable Expiration {stamp:?}"))?,
        ),
    };
    let credentials = Credentials {
        key_id,
        secret,
        session_token: text(token_key),
    };
    Ok((credentials, expiry))
}

/// The instant an RFC 3339 timestamp names (`2026-12-07T18:04:05Z`, with optional fractional
/// seconds and a `±HH:MM` offset instead of `Z`), or `None` if it is not one.
fn parse_rfc3339(stamp: &str) -> Option<SystemTime> {
    // At most four digits a field (RFC 3339's years have four, the rest two): no arithmetic
    // below can overflow, whatever a credential source prints.
    let number = |s: &str| -> Option<i64> {
        (!s.is_empty() && s.len() <= 4 && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse().ok())
            .flatten()
    };
    let (date, time) = stamp.split_once(['T', 't', ' '])?;
    let mut ymd = date.splitn(3, '-');
    let (year, month, day) = (
        number(ymd.next()?)?,
        number(ymd.next()?)?,
        number(ymd.next()?)?,
    );
    let (clock, offset_secs) = if let Some(clock) = time.strip_suffix(['Z', 'z']) {
        (clock, 0)
    } else {
        let sign_at = time.rfind(['+', '-'])?;
        let (clock, offset) = time.split_at(sign_at);
        let (oh, om) = offset[1..].split_once(':')?;
        let secs = number(oh)? * 3600 + number(om)? * 60;
        (clock, if offset.starts_with('-') { -secs } else { secs })
    };
    let clock = clock.split('.').next()?;
    let mut hms = clock.splitn(3, ':');
    let (hour, minute, second) = (
        number(hms.next()?)?,
        number(hms.next()?)?,
        number(hms.next()?)?,
    );
    if !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    // Days from 1970-01-01 to the civil date (the proleptic Gregorian calendar).
    let (y, m) = if month <= 2 {
        (year - 1, month + 9)
    } else {
        (year, month - 3)
    };
    let era = y.div_euclid(400);
    let year_of_era = y - era * 400;
    let day_of_year = (153 * m + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    let days = era * 146_097 + day_of_era - 719_468;
    let secs = days * 86_400 + hour * 3600 + minute * 60 + second - offset_secs;
    Some(UNIX_EPOCH + Duration::from_secs(u64::try_from(secs).ok()?))
}

/// The container endpoint that the environment names, if any: the relative URI under ECS's
/// link-local address, else the full URI (HTTPS, or HTTP to this host or the ECS and EKS
/// addresses only, as the AWS SDKs allow, so that a token never travels in the clear).
pub(crate) fn container_source(
    var: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<CredentialSource>> {
    let url = if let Some(relative) = var("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI") {
        format!("http://169.254.170.2{relative}")
    } else if let Some(full) = var("AWS_CONTAINER_CREDENTIALS_FULL_URI") {
        let lower = full.to_ascii_lowercase();
        let host = lower
            .strip_prefix("http://")
            .map(|rest| rest.split(['/', '?']).next().unwrap_or(""));
        let local = |host: &str| {
            let name = host
                .rsplit_once(':')
                .filter(|(h, port)| !h.ends_with(':') && port.bytes().all(|b| b.is_ascii_digit()))
                .map_or(host, |(h, _)| h);
            name == "localhost"
                || name.starts_with("127.")
                || matches!(
                    name,
                    "[::1]" | "169.254.170.2" | "169.254.170.23" | "[fd00:ec2::23]"
                )
        };
        if let Some(host) = host
            && !local(host)
        {
            return Err(Error::usage(format!(
                "AWS_CONTAINER_CREDENTIALS_FULL_URI {full:?} is plain HTTP to another host; \
                 only HTTPS, this host or the ECS/EKS endpoints are used"
            )));
        }
        full
    } else {
        return Ok(None);
    };
    let authorization = match (
        var("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"),
        var("AWS_CONTAINER_AUTHORIZATION_TOKEN"),
    ) {
        (Some(file), _) => Some(ContainerToken::File(PathBuf::from(file))),
        (None, Some(token)) => Some(ContainerToken::Value(token)),
        (None, None) => None,
    };
    Ok(Some(CredentialSource::Container { url, authorization }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufRead, BufReader, Write};

    fn at(secs: u64) -> Option<SystemTime> {
        Some(UNIX_EPOCH + Duration::from_secs(secs))
    }

    #[test]
    fn rfc3339_stamps_are_read_as_the_sdks_write_them() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), at(0));
        // `date -u -d 2026-12-07T18:04:05Z +%s`
        assert_eq!(parse_rfc3339("2026-12-07T18:04:05Z"), at(1_796_666_645));
        assert_eq!(
            parse_rfc3339("2026-12-07T18:04:05.123456Z"),
            at(1_796_666_645)
        );
        assert_eq!(
            parse_rfc3339("2026-12-07T20:04:05+02:00"),
            at(1_796_666_645)
        );
        assert_eq!(
            parse_rfc3339("2026-12-07T17:04:05-01:00"),
            at(1_796_666_645)
        );
        assert_eq!(parse_rfc3339("2000-02-29T00:00:00Z"), at(951_782_400));
        for bad in [
            "",
            "2026-12-07",
            "2026-13-07T00:00:00Z",
            "2026-12-07T25:00:00Z",
            "2026-12-07T18:04Z",
            "2026-12-07T18:04:05",
            "2026-12-07T18:04:05+0200",
            "1969-12-31T23:59:59Z",
            "２０２６-12-07T18:04:05Z",
            "99999999999999999-01-01T00:00:00Z",
            "2026-12-07T18:04:05+99999999999:00",
            "2026-12-07T18:04:05+",
            "T",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad:?}");
        }
    }

    /// A `credential_process` script that counts its runs in `runs` and prints keys that
    /// expire `expires_in` seconds from now.
    fn process(dir: &std::path::Path, name: &str, expires_in: i64) -> CredentialSource {
        let runs = dir.join(format!("{name}.runs"));
        let script = script(
            dir,
            name,
            &format!(
                "echo run >> '{}'\n\
                 printf '{{\"Version\": 1, \"AccessKeyId\": \"PROCKEY\", \
                 \"SecretAccessKey\": \"procsecret\", \"SessionToken\": \"proctoken\", \
                 \"Expiration\": \"%s\"}}' \"$(date -u -d @$(( $(date +%s) + {expires_in} )) \
                 +%Y-%m-%dT%H:%M:%SZ)\"\n",
                runs.display()
            ),
        );
        CredentialSource::Process {
            command: format!("'{}' --profile lab", script.display()),
            profile: "lab".into(),
        }
    }

    /// An executable shell script `name` in `dir` with the lines `body`.
    fn script(dir: &std::path::Path, name: &str, body: &str) -> std::path::PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, format!("#!/bin/sh\n{body}")).unwrap();
        std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
        path
    }

    fn runs(dir: &std::path::Path, name: &str) -> usize {
        std::fs::read_to_string(dir.join(format!("{name}.runs"))).map_or(0, |t| t.lines().count())
    }

    #[test]
    fn a_credential_process_runs_once_until_its_keys_near_expiry() {
        let dir = tempfile::tempdir().unwrap();
        let lasting = process(dir.path(), "lasting.sh", 3600);
        for _ in 0..3 {
            let keys = lasting.current().unwrap();
            assert_eq!(
                (keys.key_id.as_str(), keys.session_token.as_deref()),
                ("PROCKEY", Some("proctoken"))
            );
        }
        assert_eq!(runs(dir.path(), "lasting.sh"), 1);
        // Keys valid for less than five more minutes are fetched again for every request.
        let expiring = process(dir.path(), "expiring.sh", 120);
        expiring.current().unwrap();
        expiring.current().unwrap();
        assert_eq!(runs(dir.path(), "expiring.sh"), 2);
    }

    #[test]
    fn a_failing_credential_process_is_named_in_the_error() {
        let dir = tempfile::tempdir().unwrap();
        let script = script(
            dir.path(),
            "fails.sh",
            "echo 'token expired, run aws sso login' >&2\nexit 3\n",
        );
        let cases = [
            (
                script.display().to_string(),
                "failed (exit status: 3): token expired",
            ),
            (
                "/nonexistent/credential-helper --json".into(),
                "could not be run",
            ),
            ("echo not-json".into(), "printed no JSON"),
            (
                r#"echo '{"AccessKeyId":"K","SecretAccessKey":"S"}'"#.into(),
                "no \"Version\": 1",
            ),
            (
                r#"echo '{"Version":1,"AccessKeyId":"K"}'"#.into(),
                "no AccessKeyId and Secret",
            ),
            ("\"unclosed".into(), "is not a command line"),
        ];
        for (command, words) in cases {
            let source = CredentialSource::Process {
                command: command.clone(),
                profile: "lab".into(),
            };
            let err = source.current().unwrap_err();
            let text = err.to_string();
            assert!(text.contains("AWS profile \"lab\""), "{text}");
            assert!(text.contains(words), "{command}: {text}");
        }
    }

    #[test]
    fn a_credential_process_that_hangs_is_killed() {
        let start = std::time::Instant::now();
        let err = run_process("sleep 30", "slow", Duration::from_millis(300)).unwrap_err();
        assert!(
            err.to_string().contains("did not finish within 0.3 s"),
            "{err}"
        );
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "it was waited for"
        );
        // Output larger than a pipe's buffer does not stall it.
        let dir = tempfile::tempdir().unwrap();
        let big = script(
            dir.path(),
            "big.sh",
            "head -c 200000 /dev/zero | tr '\\0' ' '\n\
             printf '%s' '{\"Version\":1,\"AccessKeyId\":\"K\",\"SecretAccessKey\":\"S\"}'\n",
        );
        let command = big.display().to_string();
        let (keys, _) = run_process(&command, "big", Duration::from_secs(20)).unwrap();
        assert_eq!(keys.key_id, "K");
    }

    /// A one-connection-per-answer HTTP server on loopback: answers each request with the
    /// next of `answers` (status, body) and records the `Authorization` headers it saw.
    fn endpoint(answers: Vec<(u16, String)>) -> (String, std::sync::mpsc::Receiver<String>) {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!(
            "http://{}/v2/credentials/abc",
            listener.local_addr().unwrap()
        );
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for (status, body) in answers {
                let Ok((mut stream, _)) = listener.accept() else {
                    return;
                };
                let mut auth = String::new();
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                        break;
                    }
                    if let Some(v) = line.to_ascii_lowercase().strip_prefix("authorization:") {
                        auth = v.trim().to_owned();
                    }
                }
                let _ = tx.send(auth);
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        (url, rx)
    }

    #[test]
    fn the_container_endpoint_gives_keys_with_its_token() {
        let body = r#"{"AccessKeyId":"CONTKEY","SecretAccessKey":"s","Token":"t",
                       "Expiration":"2999-01-01T00:00:00Z"}"#;
        let (url, seen) = endpoint(vec![(200, body.into())]);
        let dir = tempfile::tempdir().unwrap();
        let token_file = dir.path().join("token");
        std::fs::write(&token_file, "pod-token\n").unwrap();
        let vars = |name: &str| match name {
            "AWS_CONTAINER_CREDENTIALS_FULL_URI" => Some(url.clone()),
            "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE" => Some(token_file.display().to_string()),
            "AWS_CONTAINER_AUTHORIZATION_TOKEN" => Some("ignored: the file comes first".into()),
            _ => None,
        };
        let source = container_source(&vars).unwrap().unwrap();
        for _ in 0..2 {
            let keys = source.current().unwrap();
            assert_eq!(
                (keys.key_id.as_str(), keys.session_token.as_deref()),
                ("CONTKEY", Some("t"))
            );
        }
        assert_eq!(seen.recv().unwrap(), "pod-token");
        assert!(seen.try_recv().is_err(), "fetched once");

        let (url, _) = endpoint(vec![(500, "busy".into())]);
        let source = CredentialSource::Container {
            url: url.clone(),
            authorization: None,
        };
        let err = source.current().unwrap_err().to_string();
        assert!(
            err.contains(&url) && err.contains("HTTP 500: busy"),
            "{err}"
        );
    }

    #[test]
    fn container_endpoints_in_the_clear_must_be_local() {
        let full = |url: &'static str| {
            move |name: &str| (name == "AWS_CONTAINER_CREDENTIALS_FULL_URI").then(|| url.to_owned())
        };
        for local in [
            "http://127.0.0.1:8080/creds",
            "http://localhost/creds",
            "http://169.254.170.23/v1/credentials",
            "http://[::1]:80/x",
            "https://creds.example.org/x",
        ] {
            assert!(container_source(&full(local)).unwrap().is_some(), "{local}");
        }
        for remote in ["http://creds.example.org/x", "http://10.0.0.5:80/x"] {
            let err = container_source(&full(remote)).unwrap_err();
            assert!(
                err.to_string().contains("plain HTTP to another host"),
                "{err}"
            );
        }
        let relative = |name: &str| {
            (name == "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI").then(|| "/v2/creds/1".to_owned())
        };
        assert_eq!(
            container_source(&relative).unwrap(),
            Some(CredentialSource::Container {
                url: "http://169.254.170.2/v2/creds/1".into(),
                authorization: None
            })
        );
        assert_eq!(container_source(&|_: &str| None).unwrap(), None);
    }
}
