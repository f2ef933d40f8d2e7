//! What a URL names, and the HTTP(S) address a request for it goes to.
//!
//! `http://` and `https://` URLs are asked as they are. `s3://bucket/key` is asked of S3's
//! HTTPS API: `https://bucket.s3.REGION.amazonaws.com/key` (region from `AWS_REGION` or
//! `AWS_DEFAULT_REGION`, else `us-east-1`), or, where `AWS_ENDPOINT_URL_S3` or
//! `AWS_ENDPOINT_URL` names an S3-compatible server, `ENDPOINT/bucket/key` (path style, as
//! MinIO and moto expect). These are the AWS CLI's own variables.

use crate::error::{Error, Result};
use std::fmt;

/// A remote object's address: the URL the user gave and the HTTP(S) URL requested.
///
/// ```
/// use neurovox::io::RemoteLocation;
/// let web = RemoteLocation::parse("https://example.org/a.nii")?;
/// assert_eq!(web.request_url(), "https://example.org/a.nii");
/// assert_eq!(web.file_name(), "a.nii");
/// # Ok::<(), neurovox::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteLocation {
    given: String,
    request: String,
}

impl RemoteLocation {
    /// Parses `url` (`http://`, `https://` or `s3://bucket/key`); a Usage error for anything
    /// else, or an `s3://` URL without a bucket or key.
    pub fn parse(url: &str) -> Result<Self> {
        let lower = url.get(..8).unwrap_or(url).to_ascii_lowercase();
        if lower.starts_with("http://") || lower.starts_with("https://") {
            let rest = url.split_once("://").map_or("", |(_, rest)| rest);
            if rest.is_empty() || rest.starts_with('/') {
                return Err(Error::usage(format!("{url:?} names no host")));
            }
            return Ok(RemoteLocation {
                given: url.to_string(),
                request: url.to_string(),
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
            let key = encode_key(key);
            let endpoint = ["AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"]
                .iter()
                .find_map(|name| std::env::var(name).ok().filter(|v| !v.is_empty()));
            let request = match endpoint {
                Some(endpoint) => format!("{}/{bucket}/{key}", endpoint.trim_end_matches('/')),
                None => {
                    let region = ["AWS_REGION", "AWS_DEFAULT_REGION"]
                        .iter()
                        .find_map(|name| std::env::var(name).ok().filter(|v| !v.is_empty()))
                        .unwrap_or_else(|| "us-east-1".to_string());
                    format!("https://{bucket}.s3.{region}.amazonaws.com/{key}")
                }
            };
            return Ok(RemoteLocation {
                given: url.to_string(),
                request,
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

    /// The HTTP(S) URL requests go to.
    pub fn request_url(&self) -> &str {
        &self.request
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
    let mut out = String::with_capacity(key.len());
    for b in key.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b'/') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
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
}
