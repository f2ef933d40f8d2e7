//! Presigned S3 GETs: AWS Signature Version 4 in its query-string form, which S3 and every
//! S3-compatible server (MinIO, moto, Ceph) accept with any `Range` header.
//!
//! Written here rather than taken from `rusty-s3` (the sans-I/O S3 crate): signing one GET is
//! some sixty lines over `hmac` and `sha2`, where `rusty-s3` brings `url` with its ICU-based
//! IDNA tables, `jiff` and a second `syn` — forty crates and over a minute of every clean
//! build, which the test command pays twice. The test below checks the AWS documentation's
//! own example, signature for signature.

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use std::time::{SystemTime, UNIX_EPOCH};

/// The credentials a request is signed with.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Credentials {
    pub key_id: String,
    pub secret: String,
    pub session_token: Option<String>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the secret or the token (errors and debug output may be logged).
        f.debug_struct("Credentials")
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

/// What to sign: `GET {origin}{path}` where `origin` is `scheme://host[:port]` and `path`
/// is already percent-encoded as S3's canonical URI wants (each byte but unreserved ones
/// and `/`).
pub(crate) struct Request<'a> {
    pub origin: &'a str,
    pub path: &'a str,
    pub region: &'a str,
}

/// The presigned URL of `request`, valid for `expires_secs` from `now`.
pub(crate) fn presign_get(
    request: &Request<'_>,
    credentials: &Credentials,
    now: SystemTime,
    expires_secs: u64,
) -> String {
    let (date, datetime) = amz_date(now);
    let host = request
        .origin
        .split_once("://")
        .map_or(request.origin, |(_, host)| host);
    let scope = format!("{date}/{}/s3/aws4_request", request.region);
    let mut query = vec![
        ("X-Amz-Algorithm", "AWS4-HMAC-SHA256".to_owned()),
        (
            "X-Amz-Credential",
            format!("{}/{scope}", credentials.key_id),
        ),
        ("X-Amz-Date", datetime.clone()),
        ("X-Amz-Expires", expires_secs.to_string()),
        ("X-Amz-SignedHeaders", "host".to_owned()),
    ];
    if let Some(token) = &credentials.session_token {
        query.push(("X-Amz-Security-Token", token.clone()));
    }
    query.sort_by(|a, b| a.0.cmp(b.0));
    let query = query
        .iter()
        .map(|(name, value)| format!("{}={}", encode(name), encode(value)))
        .collect::<Vec<_>>()
        .join("&");
    let canonical = format!(
        "GET\n{}\n{query}\nhost:{host}\n\nhost\nUNSIGNED-PAYLOAD",
        request.path
    );
    let to_sign = format!(
        "AWS4-HMAC-SHA256\n{datetime}\n{scope}\n{}",
        hex(&Sha256::digest(canonical.as_bytes()))
    );
    let mut key = hmac(
        format!("AWS4{}", credentials.secret).as_bytes(),
        date.as_bytes(),
    );
    for part in [request.region, "s3", "aws4_request"] {
        key = hmac(&key, part.as_bytes());
    }
    let signature = hex(&hmac(&key, to_sign.as_bytes()));
    format!(
        "{}{}?{query}&X-Amz-Signature={signature}",
        request.origin, request.path
    )
}

fn hmac(key: &[u8], message: &[u8]) -> Vec<u8> {
    let mut mac =
        <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(message);
    mac.finalize().into_bytes().to_vec()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// SigV4's URI encoding of a query name or value: every byte but `A-Z a-z 0-9 - _ . ~`.
fn encode(text: &str) -> String {
    uri_encode(text, false)
}

/// Percent-encodes every byte of `text` but the unreserved ones (`A-Z a-z 0-9 - _ . ~`) and,
/// when `keep_slash`, `/`: SigV4's `UriEncode`, which S3's paths and keys use too.
pub(crate) fn uri_encode(text: &str, keep_slash: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric()
            || matches!(b, b'-' | b'_' | b'.' | b'~')
            || (keep_slash && b == b'/')
        {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `(YYYYMMDD, YYYYMMDDTHHMMSSZ)` of `time` in UTC.
fn amz_date(time: SystemTime) -> (String, String) {
    let secs = time.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let (days, rest) = (secs / 86_400, secs % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's `civil_from_days`).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let date = format!("{year:04}{month:02}{day:02}");
    let datetime = format!(
        "{date}T{:02}{:02}{:02}Z",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    );
    (date, datetime)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn the_aws_documentation_example_signs_alike() {
        // "Authenticating Requests: Using Query Parameters (AWS Signature Version 4)",
        // Amazon S3 API Reference: a GET of examplebucket/test.txt, 24 May 2013, one day.
        let credentials = Credentials {
            key_id: "AKIAIOSFODNN7EXAMPLE".into(),
            secret: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY".into(),
            session_token: None,
        };
        let request = Request {
            origin: "https://examplebucket.s3.amazonaws.com",
            path: "/test.txt",
            region: "us-east-1",
        };
        let when = UNIX_EPOCH + Duration::from_secs(1_369_353_600);
        assert_eq!(
            presign_get(&request, &credentials, when, 86_400),
            "https://examplebucket.s3.amazonaws.com/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256\
             &X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request\
             &X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host\
             &X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"
        );
    }

    #[test]
    fn dates_are_utc_calendar_dates() {
        let at = |secs| amz_date(UNIX_EPOCH + Duration::from_secs(secs));
        assert_eq!(at(0).1, "19700101T000000Z");
        assert_eq!(at(951_782_400).1, "20000229T000000Z"); // a leap day
        assert_eq!(at(4_102_444_799).1, "20991231T235959Z");
    }

    #[test]
    fn a_session_token_is_signed_and_nothing_secret_is_shown() {
        let credentials = Credentials {
            key_id: "K".into(),
            secret: "never shown".into(),
            session_token: Some("tok/en+".into()),
        };
        let request = Request {
            origin: "http://127.0.0.1:9000",
            path: "/b/k.nii",
            region: "eu-west-1",
        };
        let url = presign_get(&request, &credentials, UNIX_EPOCH, 60);
        assert!(url.contains("X-Amz-Security-Token=tok%2Fen%2B&"), "{url}");
        assert!(!url.contains("never") && !format!("{credentials:?}").contains("never"));
    }
}
