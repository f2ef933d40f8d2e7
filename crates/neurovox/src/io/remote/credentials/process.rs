//! A profile's `credential_process`: a command that prints JSON credentials (SSO helpers,
//! vaults, `aws configure export-credentials`), run as the AWS CLI runs it — split as a shell
//! would split it, without a shell — and killed if it does not finish in time.

use super::credentials_of;
use crate::error::{Error, Result};
use crate::io::remote::sigv4::Credentials;
use std::time::{Duration, SystemTime};

/// How long a `credential_process` may run before it is killed: a helper that waits for a
/// login would otherwise hold every signed read of the process.
pub(super) const PROCESS_TIMEOUT: Duration = Duration::from_secs(60);

/// Runs a `credential_process` command and reads the credentials it prints; killed after
/// `timeout`.
pub(super) fn run_process(
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

#[cfg(test)]
mod tests {
    use super::super::CredentialSource;
    use super::*;

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
}
