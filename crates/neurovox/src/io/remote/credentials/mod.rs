//! The AWS credentials an `s3://` request is signed with, from whichever source the settings
//! found (`aws` module): keys given outright, or temporary keys from
//!
//! * a profile's `credential_process`, a command that prints them, as SSO helpers and vaults
//!   provide (`process`);
//! * the container credentials endpoint that ECS tasks and EKS Pod Identity give a workload
//!   (`container`);
//! * AWS STS, for a role assumed with a web identity token (EKS service accounts, CI
//!   runners' OIDC tokens) or with other credentials (a profile's `role_arn`) (`sts`);
//! * the EC2 instance metadata service, for an instance's role (`instance`);
//! * the SSO portal, for the role of an `aws sso login` session (`sso`).
//!
//! Temporary keys are fetched at the first signed request, kept for the process, and
//! fetched again five minutes before they expire, so a proxy read for hours on a Dask worker
//! keeps working.
//!
//! A few hundred lines over `ureq` (already here for remote reads), `serde_json`, `shlex` and
//! `sha1` (the SSO cache's file names): the AWS SDK for Rust (`aws-config`) would bring
//! tokio, hyper and its own HTTP stack to a synchronous library, and STS and SSO clients of
//! their own.

mod container;
mod instance;
#[cfg(test)]
mod loopback;
mod process;
mod sso;
mod sts;

pub(crate) use container::{ContainerToken, container_source};
pub(crate) use instance::{InstanceMetadata, instance_metadata};
pub(crate) use sso::{SsoRole, sso_role};
pub(crate) use sts::{RoleToAssume, StsEndpoint, default_session_name};

use super::sigv4::Credentials;
use crate::error::Result;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How long before their expiry temporary credentials are fetched again (what the AWS SDKs
/// allow, so that a request signed now is still valid when the server checks it).
const REFRESH_BEFORE_EXPIRY: Duration = Duration::from_secs(5 * 60);

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
    /// A role assumed through STS with the web identity token in a file (read at each
    /// fetch: Kubernetes rotates it).
    WebIdentity {
        role: RoleToAssume,
        token_file: PathBuf,
    },
    /// A role assumed through STS with the credentials of another source.
    AssumeRole {
        role: RoleToAssume,
        source: Box<CredentialSource>,
    },
    /// The role of the EC2 instance this runs on.
    Instance(InstanceMetadata),
    /// The role an SSO profile signs in as.
    Sso(SsoRole),
}

/// What a source gave when last fetched: its keys and their expiry.
type Fetched = Option<(Credentials, Option<SystemTime>)>;

/// Temporary credentials by source. Each source has its own lock, held while it fetches:
/// concurrent first requests fetch once, and a role's source is fetched under its own lock,
/// not the role's.
static FETCHED: Mutex<Vec<(CredentialSource, Arc<Mutex<Fetched>>)>> = Mutex::new(Vec::new());

impl CredentialSource {
    /// The credentials to sign a request with now: the static keys, or the fetched ones while
    /// they are valid for five more minutes, else fetched (again). Errors (Io) name the source
    /// and what went wrong.
    pub(crate) fn current(&self) -> Result<Credentials> {
        if let CredentialSource::Static(credentials) = self {
            return Ok(credentials.clone());
        }
        let slot = {
            let mut all = FETCHED.lock().unwrap_or_else(|e| e.into_inner());
            match all.iter().find(|(source, _)| source == self) {
                Some((_, slot)) => Arc::clone(slot),
                None => {
                    let slot = Arc::new(Mutex::new(None));
                    all.push((self.clone(), Arc::clone(&slot)));
                    slot
                }
            }
        };
        let mut slot = slot.lock().unwrap_or_else(|e| e.into_inner());
        let now = SystemTime::now();
        if let Some((credentials, expiry)) = slot.as_ref()
            && expiry.is_none_or(|e| {
                e.duration_since(now)
                    .is_ok_and(|d| d > REFRESH_BEFORE_EXPIRY)
            })
        {
            return Ok(credentials.clone());
        }
        let (credentials, expiry) = self.fetch()?;
        *slot = Some((credentials.clone(), expiry));
        Ok(credentials)
    }

    /// The source's credentials as it gives them now, with their expiry (static keys never
    /// expire).
    fn fetch(&self) -> Result<(Credentials, Option<SystemTime>)> {
        match self {
            CredentialSource::Static(credentials) => Ok((credentials.clone(), None)),
            CredentialSource::Process { command, profile } => {
                process::run_process(command, profile, process::PROCESS_TIMEOUT)
            }
            CredentialSource::Container { url, authorization } => {
                container::fetch_container(url, authorization.as_ref())
            }
            CredentialSource::WebIdentity { role, token_file } => {
                sts::assume_role_with_web_identity(role, token_file)
            }
            CredentialSource::AssumeRole { role, source } => {
                sts::assume_role(role, &source.current()?)
            }
            CredentialSource::Instance(service) => service.fetch(),
            CredentialSource::Sso(role) => role.fetch(),
        }
    }
}

/// The most a token or token cache file is read of (they are a few KiB).
pub(crate) const TOKEN_FILE_LIMIT: u64 = 1 << 20;

/// The text of a small file that the AWS set-up names (a token, a token cache, a config
/// file), refused past `limit` bytes: a path that names something else (a device, a large
/// file) must not be read whole.
pub(crate) fn read_small_text(path: &std::path::Path, limit: u64) -> std::io::Result<String> {
    use std::io::Read;
    let mut text = String::new();
    std::fs::File::open(path)?
        .take(limit.saturating_add(1))
        .read_to_string(&mut text)?;
    if text.len() as u64 > limit {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("it is larger than {limit} bytes"),
        ));
    }
    Ok(text)
}

/// The HTTP client that asks a credential endpoint (a container endpoint, the instance
/// metadata service, STS, the SSO portal): every status is an answer rather than an error,
/// a request may take `timeout` in all, and redirects are not followed (a token sent to one
/// address goes nowhere else).
fn endpoint_agent(timeout: Duration) -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_global(Some(timeout))
        .http_status_as_error(false)
        .max_redirects(0)
        .user_agent(concat!("neurovox/", env!("CARGO_PKG_VERSION")))
        .build()
        .into()
}

/// An answer's status and text. Credentials, a role's name or an STS answer are a few KiB:
/// more is not one, and is refused rather than read.
fn answer_text(
    mut response: ureq::http::Response<ureq::Body>,
) -> std::result::Result<(u16, String), String> {
    let status = response.status().as_u16();
    response
        .body_mut()
        .with_config()
        .limit(256 * 1024)
        .read_to_string()
        .map(|text| (status, text))
        .map_err(|e| format!("answered unreadably: {e}"))
}

/// The credentials in an AWS credentials JSON object (`AccessKeyId`, `SecretAccessKey`, the
/// token under `token_key`, an optional RFC 3339 `Expiration`), or what is wrong with it.
pub(super) fn credentials_of(
    json: &serde_json::Value,
    token_key: &str,
) -> std::result::Result<(Credentials, Option<SystemTime>), String> {
    let text = |key: &str| json[key].as_str().map(str::to_owned);
    credentials_of_fields(
        text("AccessKeyId"),
        text("SecretAccessKey"),
        text(token_key),
        text("Expiration"),
    )
}

/// Credentials from their fields as a source gave them (an empty field is a missing one), or
/// what is wrong with them: no key or secret, an expiry that is not an RFC 3339 time.
pub(super) fn credentials_of_fields(
    key_id: Option<String>,
    secret: Option<String>,
    session_token: Option<String>,
    expiration: Option<String>,
) -> std::result::Result<(Credentials, Option<SystemTime>), String> {
    let given = |field: Option<String>| field.filter(|v| !v.is_empty());
    let (Some(key_id), Some(secret)) = (given(key_id), given(secret)) else {
        return Err("no AccessKeyId and SecretAccessKey".into());
    };
    let expiry = match given(expiration) {
        None => None,
        Some(stamp) => Some(
            parse_rfc3339(&stamp).ok_or_else(|| format!("an unreadable Expiration {stamp:?}"))?,
        ),
    };
    let credentials = Credentials {
        key_id,
        secret,
        session_token: given(session_token),
    };
    Ok((credentials, expiry))
}

/// The instant an RFC 3339 timestamp names (`2026-12-07T18:04:05Z`, with optional fractional
/// seconds and a `±HH:MM` offset instead of `Z`), or `None` if it is not one.
pub(super) fn parse_rfc3339(stamp: &str) -> Option<SystemTime> {
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
