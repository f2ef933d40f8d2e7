//! AWS Signature Version 4: presigned S3 GETs (the query-string form, which S3 and every
//! S3-compatible server — MinIO, moto, Ceph — accept with any `Range` header), and signed form
//! POSTs (the header form) for the STS requests that assume a role.
//!
//! Written here rather than taken from `rusty-s3` (the sans-I/O S3 crate) or `aws-sigv4`:
//! the two signatures are some hundred lines over `hmac` and `sha2`, where `rusty-s3` brings
//! `url` with its ICU-based IDNA tables, `jiff` and a second `syn` — forty crates and over a
//! minute of every clean build, which the test command pays twice — and `aws-sigv4` the AWS
//! SDK's runtime types. The tests check the AWS documentation's own example and a case of
//! AWS's Signature Version 4 test suite, signature for signature.

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
    let signature = signature(credentials, &date, request.region, "s3", &to_sign);
    format!(
        "{}{}?{query}&X-Amz-Signature={signature}",
        request.origin, request.path
    )
}

/// The headers that sign a form POST of `body` to `url`'s root for AWS `service` (what the
/// STS query API takes): `X-Amz-Date`, `Authorization` and, with a session token,
/// `X-Amz-Security-Token`. The request must send `Content-Type:
/// application/x-www-form-urlencoded`, which is signed too.
pub(crate) fn sign_form_post(
    url: &str,
    region: &str,
    service: &str,
    body: &str,
    credentials: &Credentials,
    now: SystemTime,
) -> Vec<(&'static str, String)> {
    let (date, datetime) = amz_date(now);
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let (host, path) = rest.find('/').map_or((rest, "/"), |i| rest.split_at(i));
    let mut headers = vec![
        (
            "content-type",
            "application/x-www-form-urlencoded".to_owned(),
        ),
        ("host", host.to_owned()),
        ("x-amz-date", datetime.clone()),
    ];
    if let Some(token) = &credentials.session_token {
        headers.push(("x-amz-security-token", token.clone()));
    }
    let signed = headers
        .iter()
        .map(|(name, _)| *name)
        .collect::<Vec<_>>()
        .join(";");
    let canonical_headers: String = headers
        .iter()
        .map(|(name, value)| format!("{name}:{value}\n"))
        .collect();
    let canonical = format!(
        "POST\n{path}\n\n{canonical_headers}\n{signed}\n{}",
        hex(&Sha256::digest(body.as_bytes()))
    );
    let scope = format!("{date}/{region}/{service}/aws4_request");
    let to_sign = format!(
        "AWS4-HMAC-SHA256\n{datetime}\n{scope}\n{}",
        hex(&Sha256::digest(canonical.as_bytes()))
    );
    let signature = signature(credentials, &date, region, service, &to_sign);
    let mut out = vec![
        ("X-Amz-Date", datetime),
        (
            "Authorization",
            format!(
                "AWS4-HMAC-SHA256 Credential={}/{scope}, SignedHeaders={signed}, \
                 Signature={signature}",
                credentials.key_id
            ),
        ),
    ];
    if let Some(token) = &credentials.session_token {
        out.push(("X-Amz-Security-Token", token.clone()));
    }
    out
}

/// The hex signature of `to_sign` with the key derived from the secret for the day, region
/// and service.
fn signature(
    credentials: &Credentials,
    date: &str,
    region: &str,
    service: &str,
    to_sign: &str,
) -> String {
    let mut key = hmac(
        format!("AWS4{}", credentials.secret).as_bytes(),
        date.as_bytes(),
    );
    for part in [region, service, "aws4_request"] {
        key = hmac(&key, part.as_bytes());
    }
    hex(&hmac(&key, to_sign.as_bytes()))
}

fn hmac(key: &[u8], message: &[u8]) -> Vec<u8> {
    let mut mac =
        <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(message);
    mac.finalize().into_bytes().to_vec()
}

/// Lower-case hexadecimal digits of `bytes` (what SigV4's digests, and the AWS CLI's cache
/// file names, are written in).
pub(crate) fn hex(bytes: &[u8]) -> String {
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
    fn a_form_post_signs_as_the_aws_test_suite_says() {
        // The "post-x-www-form-urlencoded" case of AWS's Signature Version 4 test suite.
        let credentials = Credentials {
            key_id: "AKIDEXAMPLE".into(),
            secret: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".into(),
            session_token: None,
        };
        let when = UNIX_EPOCH + Duration::from_secs(1_440_938_160);
        let headers = sign_form_post(
            "https://example.amazonaws.com/",
            "us-east-1",
            "service",
            "Param1=value1",
            &credentials,
            when,
        );
        assert_eq!(
            headers,
            [
                ("X-Amz-Date", "20150830T123600Z".to_owned()),
                (
                    "Authorization",
                    "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/\
                     aws4_request, SignedHeaders=content-type;host;x-amz-date, \
                     Signature=ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a"
                        .to_owned()
                ),
            ]
        );
        // A session token is signed and sent; a port and no path sign as the host and `/`.
        let temporary = Credentials {
            session_token: Some("tok".into()),
            ..credentials
        };
        let headers = sign_form_post(
            "http://127.0.0.1:5000",
            "eu-west-1",
            "sts",
            "A=1",
            &temporary,
            when,
        );
        assert!(
            headers[1]
                .1
                .contains("SignedHeaders=content-type;host;x-amz-date;x-amz-security-token,"),
            "{headers:?}"
        );
        assert_eq!(headers[2], ("X-Amz-Security-Token", "tok".to_owned()));
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
