//! The EC2 instance metadata service: the credentials of the instance's IAM role.
//!
//! IMDSv2 as the AWS SDKs speak it: a session token from `PUT /latest/api/token`, sent with
//! each GET — the role's name from `/latest/meta-data/iam/security-credentials/`, its keys
//! from `…/NAME`. Where the token PUT is refused (403, 404 or 405: a service that speaks
//! IMDSv1 only) the GETs go without a token, unless `AWS_EC2_METADATA_V1_DISABLED` forbids it.
//!
//! The service is asked only after an anonymous `s3://` request was refused (the `object`
//! module), or when a profile's `credential_source = Ec2InstanceMetadata` names it: off EC2
//! its address does not answer, and asking it first would cost every anonymous read of a
//! public bucket a timeout. A service that did not answer once is not asked again by the
//! process.

use super::{answer_text, credentials_of, endpoint_agent};
use crate::error::{Error, Result};
use crate::io::remote::sigv4::Credentials;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

/// The service's address on IPv4 (and, with `AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE=IPv6`,
/// on IPv6).
const IPV4_ENDPOINT: &str = "http://169.254.169.254";
const IPV6_ENDPOINT: &str = "http://[fd00:ec2::254]";

/// How long a session token lives (what the AWS SDKs ask for).
const TOKEN_TTL_SECS: u32 = 21_600;

/// The metadata services that failed to answer at all: they are not asked again.
static SILENT: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// An instance metadata service to ask for the role's credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct InstanceMetadata {
    pub endpoint: String,
    /// How long each request may take (`AWS_METADATA_SERVICE_TIMEOUT`, 1 s by default).
    pub timeout: Duration,
    /// Whether requests may go without a session token when the service gives none.
    pub v1_allowed: bool,
}

/// The metadata service the environment names, or `None` when `AWS_EC2_METADATA_DISABLED`
/// is true: `AWS_EC2_METADATA_SERVICE_ENDPOINT`, else the link-local address.
pub(crate) fn instance_metadata(var: &dyn Fn(&str) -> Option<String>) -> Option<InstanceMetadata> {
    let is_true = |name| var(name).is_some_and(|v| v.eq_ignore_ascii_case("true"));
    if is_true("AWS_EC2_METADATA_DISABLED") {
        return None;
    }
    let endpoint = var("AWS_EC2_METADATA_SERVICE_ENDPOINT").unwrap_or_else(|| {
        let ipv6 = var("AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE")
            .is_some_and(|mode| mode.eq_ignore_ascii_case("ipv6"));
        (if ipv6 { IPV6_ENDPOINT } else { IPV4_ENDPOINT }).to_owned()
    });
    let timeout = var("AWS_METADATA_SERVICE_TIMEOUT")
        .and_then(|secs| secs.trim().parse::<f64>().ok())
        .filter(|secs| secs.is_finite() && *secs > 0.0 && *secs <= 3600.0)
        .map_or(Duration::from_secs(1), Duration::from_secs_f64);
    Some(InstanceMetadata {
        endpoint: endpoint.trim_end_matches('/').to_owned(),
        timeout,
        v1_allowed: !is_true("AWS_EC2_METADATA_V1_DISABLED"),
    })
}

impl InstanceMetadata {
    /// Whether the service failed to answer at all (this process will not ask it again).
    pub(crate) fn is_silent(&self) -> bool {
        SILENT
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains(&self.endpoint)
    }

    /// The role's credentials, as the service gives them now.
    pub(super) fn fetch(&self) -> Result<(Credentials, Option<SystemTime>)> {
        let failed = |what: String| {
            Error::io(std::io::Error::other(format!(
                "the EC2 instance metadata service at {} {what}",
                self.endpoint
            )))
        };
        if self.is_silent() {
            return Err(failed("did not answer before".into()));
        }
        let agent = endpoint_agent(self.timeout);
        let silent = |e: ureq::Error| {
            SILENT
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(self.endpoint.clone());
            failed(format!("did not answer: {e}"))
        };
        let read = |response| answer_text(response).map_err(failed);
        let (status, token) = read(
            agent
                .put(format!("{}/latest/api/token", self.endpoint))
                .header("X-aws-ec2-metadata-token-ttl-seconds", TOKEN_TTL_SECS)
                .send_empty()
                .map_err(silent)?,
        )?;
        let token = match status {
            200 => Some(token.trim().to_owned()),
            403..=405 if self.v1_allowed => None,
            _ => {
                return Err(failed(format!(
                    "refused a session token (HTTP {status}: {})",
                    token.trim()
                )));
            }
        };
        let get = |path: &str| {
            let mut request = agent.get(format!("{}{path}", self.endpoint));
            if let Some(token) = &token {
                request = request.header("X-aws-ec2-metadata-token", token);
            }
            read(request.call().map_err(silent)?)
        };
        let roles = "/latest/meta-data/iam/security-credentials/";
        let role = match get(roles)? {
            (200, names) => names.lines().next().unwrap_or("").trim().to_owned(),
            (404, _) => return Err(failed("knows no IAM role of this instance".into())),
            (status, text) => {
                return Err(failed(format!("answered HTTP {status}: {}", text.trim())));
            }
        };
        if role.is_empty() || role.contains(['/', '?', '#']) {
            return Err(failed(format!("named no usable IAM role ({role:?})")));
        }
        let (status, text) = get(&format!("{roles}{role}"))?;
        if status != 200 {
            return Err(failed(format!(
                "answered HTTP {status} for role {role}: {}",
                text.trim()
            )));
        }
        let json: serde_json::Value = serde_json::from_str(&text)
            .map_err(|e| failed(format!("answered no JSON for role {role}: {e}")))?;
        if let Some(code) = json["Code"].as_str()
            && code != "Success"
        {
            return Err(failed(format!("answered {code:?} for role {role}")));
        }
        credentials_of(&json, "Token").map_err(|what| failed(format!("answered {what}")))
    }
}

#[cfg(test)]
mod tests {
    use super::super::loopback::serve;
    use super::*;

    const KEYS: &str = r#"{"Code":"Success","Type":"AWS-HMAC","AccessKeyId":"ASIAINSTANCE",
        "SecretAccessKey":"s","Token":"instance-token","Expiration":"2999-01-01T00:00:00Z"}"#;

    fn service(origin: &str) -> InstanceMetadata {
        InstanceMetadata {
            endpoint: origin.into(),
            timeout: Duration::from_secs(5),
            v1_allowed: true,
        }
    }

    #[test]
    fn imdsv2_gives_the_role_keys_with_a_session_token() {
        let (origin, seen) = serve(vec![
            (200, "session-1".into()),
            (200, "lab-reader\n".into()),
            (200, KEYS.into()),
        ]);
        let (keys, expiry) = service(&origin).fetch().unwrap();
        assert_eq!(
            (keys.key_id.as_str(), keys.session_token.as_deref()),
            ("ASIAINSTANCE", Some("instance-token"))
        );
        assert!(expiry.is_some());
        let requests: Vec<_> = seen.iter().collect();
        let asked: Vec<_> = requests
            .iter()
            .map(|r| (r.method.as_str(), r.path.as_str()))
            .collect();
        assert_eq!(
            asked,
            [
                ("PUT", "/latest/api/token"),
                ("GET", "/latest/meta-data/iam/security-credentials/"),
                (
                    "GET",
                    "/latest/meta-data/iam/security-credentials/lab-reader"
                ),
            ]
        );
        assert_eq!(
            requests[0].header("x-aws-ec2-metadata-token-ttl-seconds"),
            Some("21600")
        );
        for r in &requests[1..] {
            assert_eq!(r.header("x-aws-ec2-metadata-token"), Some("session-1"));
        }
    }

    #[test]
    fn an_imdsv1_service_is_asked_without_a_token_unless_forbidden() {
        let (origin, seen) = serve(vec![
            (405, String::new()),
            (200, "lab-reader".into()),
            (200, KEYS.into()),
        ]);
        assert_eq!(service(&origin).fetch().unwrap().0.key_id, "ASIAINSTANCE");
        let requests: Vec<_> = seen.iter().collect();
        assert!(
            requests[1..]
                .iter()
                .all(|r| r.header("x-aws-ec2-metadata-token").is_none())
        );

        let (origin, _) = serve(vec![(405, String::new())]);
        let forbidden = InstanceMetadata {
            v1_allowed: false,
            ..service(&origin)
        };
        let err = forbidden.fetch().unwrap_err().to_string();
        assert!(err.contains("refused a session token (HTTP 405"), "{err}");
    }

    #[test]
    fn an_instance_without_a_role_or_keys_is_an_error_that_says_so() {
        let (origin, _) = serve(vec![(200, "t".into()), (404, "Not Found".into())]);
        let err = service(&origin).fetch().unwrap_err().to_string();
        assert!(
            err.contains(&origin) && err.contains("knows no IAM role"),
            "{err}"
        );
        let (origin, _) = serve(vec![
            (200, "t".into()),
            (200, "lab".into()),
            (200, r#"{"Code":"AssumeRoleUnauthorizedAccess"}"#.into()),
        ]);
        let err = service(&origin).fetch().unwrap_err().to_string();
        assert!(
            err.contains("\"AssumeRoleUnauthorizedAccess\" for role lab"),
            "{err}"
        );
        let (origin, _) = serve(vec![(200, "t".into()), (200, "../escape".into())]);
        let err = service(&origin).fetch().unwrap_err().to_string();
        assert!(err.contains("no usable IAM role"), "{err}");
    }

    #[test]
    fn the_environment_names_or_disables_the_service() {
        let vars = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, v)| v.to_string())
            }
        };
        let default = instance_metadata(&vars(&[])).unwrap();
        assert_eq!(
            (
                default.endpoint.as_str(),
                default.timeout,
                default.v1_allowed
            ),
            ("http://169.254.169.254", Duration::from_secs(1), true)
        );
        let named = instance_metadata(&vars(&[
            (
                "AWS_EC2_METADATA_SERVICE_ENDPOINT",
                "http://127.0.0.1:1338/",
            ),
            ("AWS_METADATA_SERVICE_TIMEOUT", "2.5"),
            ("AWS_EC2_METADATA_V1_DISABLED", "true"),
        ]))
        .unwrap();
        assert_eq!(
            (named.endpoint.as_str(), named.timeout, named.v1_allowed),
            ("http://127.0.0.1:1338", Duration::from_millis(2500), false)
        );
        let ipv6 = instance_metadata(&vars(&[("AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE", "IPv6")]));
        assert_eq!(ipv6.unwrap().endpoint, "http://[fd00:ec2::254]");
        let nonsense = instance_metadata(&vars(&[("AWS_METADATA_SERVICE_TIMEOUT", "1e300")]));
        assert_eq!(nonsense.unwrap().timeout, Duration::from_secs(1));
        assert_eq!(
            instance_metadata(&vars(&[("AWS_EC2_METADATA_DISABLED", "TRUE")])),
            None
        );
    }
}
