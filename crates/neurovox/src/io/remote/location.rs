//! What a URL names, and the HTTP(S) address a request for it goes to.
//!
//! `http://` and `https://` URLs are asked as they are. `s3://bucket/key` is asked of S3's
//! HTTPS API: `https://bucket.s3.REGION.amazonaws.com/key`, or path style
//! (`https://s3.REGION.amazonaws.com/bucket/key`) for a bucket whose name has dots (such as
//! `openneuro.org`, which no certificate of a virtual host covers), or, where
//! `AWS_ENDPOINT_URL_S3` or `AWS_ENDPOINT_URL` names an S3-compatible server,
//! `ENDPOINT/bucket/key` (path style, as MinIO and moto expect). With credentials (the `aws`
//! module says where they come from) every request is presigned (SigV4, `sigv4` module);
//! without, requests are anonymous, as public buckets need.

use super::aws::{AwsSettings, CredentialSource};
use crate::error::{Error, Result};
use std::borrow::Cow;
use std::fmt;
use std::time::Duration;

/// How long a presigned request stays valid: it is made at once, so minutes are plenty.
const SIGNATURE_LIFETIME: Duration = Duration::from_secs(15 * 60);

/// A remote object's address: the URL the user gave and the HTTP(S) URL requested.
///
/// ```
/// use neurovox::io::RemoteLocation;
/// let web = RemoteLocation::parse("https://example.org/a.nii")?;
/// assert_eq!(web.request_url()?, "https://example.org/a.nii");
/// assert_eq!(web.file_name(), "a.nii");
/// # Ok::<(), neurovox::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct RemoteLocation {
    given: String,
    request: String,
    signer: Option<S3Signer>,
    /// For an anonymous `s3://` location: the signer with the EC2 instance's role, to try
    /// when the anonymous request is refused.
    instance_signer: Option<S3Signer>,
}

impl PartialEq for RemoteLocation {
    fn eq(&self, other: &Self) -> bool {
        self.given == other.given && self.request == other.request
    }
}

impl Eq for RemoteLocation {}

/// Presigns GETs of one S3 object.
#[derive(Debug, Clone)]
struct S3Signer {
    /// `scheme://host[:port]` of the requests.
    origin: String,
    /// The canonical (percent-encoded) path: `/bucket/key` or `/key`.
    path: String,
    region: String,
    credentials: CredentialSource,
}

impl RemoteLocation {
    /// Parses `url` (`http://`, `https://` or `s3://bucket/key`, the latter with the AWS
    /// settings of the environment); a Usage error for anything else, or an `s3://` URL
    /// without a bucket or key.
    pub fn parse(url: &str) -> Result<Self> {
        // The AWS settings matter to s3:// URLs alone (and can fail to be read).
        if url
            .get(..5)
            .is_some_and(|s| s.eq_ignore_ascii_case("s3://"))
        {
            Self::parse_with(url, &AwsSettings::from_env()?)
        } else {
            Self::parse_with(url, &AwsSettings::default())
        }
    }

    pub(crate) fn parse_with(url: &str, aws: &AwsSettings) -> Result<Self> {
        let lower = url.get(..8).unwrap_or(url).to_ascii_lowercase();
        if lower.starts_with("http://") || lower.starts_with("https://") {
            let rest = url.split_once("://").map_or("", |(_, rest)| rest);
            if rest.is_empty() || rest.starts_with('/') {
                return Err(Error::usage(format!("{url:?} names no host")));
            }
            return Ok(RemoteLocation {
                given: url.to_string(),
                request: url.to_string(),
                signer: None,
                instance_signer: None,
            });
        }
        if lower.starts_with("s3://") {
            let rest = &url[5..];
            let Some((bucket, key)) = rest
                .split_once('/')
                .filter(|(b, k)| !b.is_empty() && !k.is_empty())
            else {
                return Err(Error::usage(format!("{url:?} is not s3://BUCKET/KEY")));
            };
            let region = aws.region.as_str();
            let encoded = encode_key(key);
            let (origin, path) = match &aws.endpoint {
                Some(endpoint) => {
                    // `scheme://host[:port]` signs as the host; a path after it (a server
                    // behind a prefix) belongs to the signed path.
                    let endpoint = endpoint.trim_end_matches('/');
                    let host_start = endpoint.find("://").map_or(0, |i| i + 3);
                    let (origin, prefix) = match endpoint[host_start..].find('/') {
                        Some(slash) => endpoint.split_at(host_start + slash),
                        None => (endpoint, ""),
                    };
                    (origin.to_owned(), format!("{prefix}/{bucket}/{encoded}"))
                }
                // Path style: no certificate of a virtual host covers a name with dots.
                None if bucket.contains('.') => (
                    format!("https://s3.{region}.amazonaws.com"),
                    format!("/{bucket}/{encoded}"),
                ),
                None => (
                    format!("https://{bucket}.s3.{region}.amazonaws.com"),
                    format!("/{encoded}"),
                ),
            };
            let request = format!("{origin}{path}");
            let signer_with = |credentials| S3Signer {
                origin: origin.clone(),
                path: path.clone(),
                region: region.to_owned(),
                credentials,
            };
            return Ok(RemoteLocation {
                given: url.to_string(),
                request,
                signer: aws.credentials.clone().map(signer_with),
                instance_signer: aws
                    .instance_role
                    .clone()
                    .map(|service| signer_with(CredentialSource::Instance(service))),
            });
        }
        Err(Error::usage(format!(
            "{url:?} is not an http://, https:// or s3:// URL"
        )))
    }

    /// The URL as the user gave it: what messages and file names show.
    pub fn as_str(&self) -> &str {
        &self.given
    }

    /// The HTTP(S) URL a request goes to now: presigned afresh for each request when the
    /// object is read with credentials. Errors (Io): temporary credentials that could not be
    /// fetched (a `credential_process` that failed, a container endpoint that did not answer).
    pub fn request_url(&self) -> Result<Cow<'_, str>> {
        match &self.signer {
            None => Ok(Cow::Borrowed(&self.request)),
            Some(signer) => Ok(Cow::Owned(super::sigv4::presign_get(
                &super::sigv4::Request {
                    origin: &signer.origin,
                    path: &signer.path,
                    region: &signer.region,
                },
                &signer.credentials.current()?,
                std::time::SystemTime::now(),
                SIGNATURE_LIFETIME.as_secs(),
            ))),
        }
    }

    /// This anonymous `s3://` location signed with the credentials of the EC2 instance's
    /// role, when the environment leaves the instance metadata service to ask and it gives
    /// them: what a refused anonymous request tries next. `None` for every other location,
    /// and where the service does not answer (off EC2). Errors (Io): the service answered
    /// but gave no credentials (an instance without a role, say).
    pub(crate) fn with_instance_role(&self) -> Result<Option<RemoteLocation>> {
        let Some(signer) = &self.instance_signer else {
            return Ok(None);
        };
        if let Err(e) = signer.credentials.current() {
            return match &signer.credentials {
                CredentialSource::Instance(service) if service.is_silent() => Ok(None),
                _ => Err(e),
            };
        }
        Ok(Some(RemoteLocation {
            given: self.given.clone(),
            request: self.request.clone(),
            signer: Some(signer.clone()),
            instance_signer: None,
        }))
    }

    /// Whether requests are signed with credentials.
    pub fn is_signed(&self) -> bool {
        self.signer.is_some()
    }

    /// The last component of the URL's path, without query or fragment: what tells a
    /// `.nii.gz` from a `.mgz` by name.
    pub fn file_name(&self) -> &str {
        let path = self.given.split(['?', '#']).next().unwrap_or("");
        path.rsplit('/').next().unwrap_or("")
    }
}

impl fmt::Display for RemoteLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.given)
    }
}

/// Percent-encodes an S3 key for a URL path: every byte but unreserved characters and `/`.
fn encode_key(key: &str) -> String {
    super::sigv4::uri_encode(key, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s3_keys_are_percent_encoded_and_need_bucket_and_key() {
        assert_eq!(encode_key("a b/c+d.nii.gz"), "a%20b/c%2Bd.nii.gz");
        assert!(RemoteLocation::parse("s3://bucket").is_err());
        assert!(RemoteLocation::parse("s3:///key").is_err());
        assert!(RemoteLocation::parse("https:///x").is_err());
        assert!(RemoteLocation::parse("ftp://host/x").is_err());
        let signed = RemoteLocation::parse("https://h/d/x.nii.gz?sig=1").unwrap();
        assert_eq!(signed.file_name(), "x.nii.gz");
    }

    fn aws(endpoint: Option<&str>, key: Option<&str>) -> AwsSettings {
        AwsSettings {
            region: "eu-central-1".into(),
            endpoint: endpoint.map(Into::into),
            credentials: key.map(|k| {
                CredentialSource::Static(super::super::aws::AwsCredentials {
                    key_id: k.into(),
                    secret: "secret".into(),
                    session_token: None,
                })
            }),
            instance_role: None,
        }
    }

    #[test]
    fn s3_urls_become_virtual_host_path_or_endpoint_requests() {
        let plain = RemoteLocation::parse_with("s3://lab/a b.nii.gz", &aws(None, None)).unwrap();
        assert_eq!(
            plain.request_url().unwrap(),
            "https://lab.s3.eu-central-1.amazonaws.com/a%20b.nii.gz"
        );
        assert!(!plain.is_signed());
        let dotted =
            RemoteLocation::parse_with("s3://openneuro.org/ds1/x.nii", &aws(None, None)).unwrap();
        assert_eq!(
            dotted.request_url().unwrap(),
            "https://s3.eu-central-1.amazonaws.com/openneuro.org/ds1/x.nii"
        );
        let local = aws(Some("http://127.0.0.1:9000/"), None);
        let minio = RemoteLocation::parse_with("s3://b/k/x.mgz", &local).unwrap();
        assert_eq!(
            minio.request_url().unwrap(),
            "http://127.0.0.1:9000/b/k/x.mgz"
        );
        // Behind a path prefix, the prefix is part of the path that is signed, not the host.
        let behind = aws(Some("https://store.lab.org/s3/"), Some("K"));
        let prefixed = RemoteLocation::parse_with("s3://b/x.nii", &behind).unwrap();
        let url = prefixed.request_url().unwrap().into_owned();
        assert!(
            url.starts_with("https://store.lab.org/s3/b/x.nii?X-Amz-"),
            "{url}"
        );
    }

    #[test]
    fn with_credentials_every_request_is_presigned() {
        let settings = aws(Some("http://127.0.0.1:9000"), Some("AKIDEXAMPLE"));
        let location = RemoteLocation::parse_with("s3://b/dir/x y.nii.gz", &settings).unwrap();
        assert!(location.is_signed());
        let url = location.request_url().unwrap().into_owned();
        assert!(
            url.starts_with("http://127.0.0.1:9000/b/dir/x%20y.nii.gz?"),
            "{url}"
        );
        for part in [
            "X-Amz-Algorithm=AWS4-HMAC-SHA256",
            "X-Amz-Credential=AKIDEXAMPLE%2F",
            "%2Feu-central-1%2Fs3%2Faws4_request",
            "X-Amz-Signature=",
        ] {
            assert!(url.contains(part), "{part} in {url}");
        }
        assert!(!url.contains("secret") && !format!("{location:?}").contains("secret"));
    }
}
