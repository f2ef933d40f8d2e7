//! Roles assumed through AWS STS: `AssumeRoleWithWebIdentity` with the token of a file (what
//! EKS service accounts and CI runners' OIDC set-ups give: `AWS_ROLE_ARN` and
//! `AWS_WEB_IDENTITY_TOKEN_FILE`, or a profile's `role_arn` and `web_identity_token_file`),
//! and `AssumeRole` signed with another source's credentials (a profile's `role_arn` with a
//! `source_profile` or `credential_source`).
//!
//! Both are form POSTs to STS's query API, which answers XML. The four values read from an
//! answer are the text of elements that have no children and no attributes, found by their
//! tags; an XML crate would add a parser and its dependencies for those few lines.

use super::{
    TOKEN_FILE_LIMIT, answer_text, credentials_of_fields, endpoint_agent, read_small_text,
};
use crate::error::{Error, Result};
use crate::io::remote::sigv4::{Credentials, sign_form_post, uri_encode};
use std::path::Path;
use std::time::{Duration, SystemTime};

/// How long STS may take to answer one request.
const STS_TIMEOUT: Duration = Duration::from_secs(10);

/// Attempts of one STS request when it fails in passing (a 5xx or 429 answer, no answer).
const STS_ATTEMPTS: u32 = 3;

/// The STS API version these requests are written for.
const STS_VERSION: &str = "2011-06-15";

/// Where STS requests go, and the region they are signed for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StsEndpoint {
    pub url: String,
    pub region: String,
}

impl StsEndpoint {
    /// `AWS_ENDPOINT_URL_STS`, else `AWS_ENDPOINT_URL`, else the regional endpoint of
    /// `region` (what the AWS CLI v2 uses).
    pub(crate) fn from_lookup(var: &dyn Fn(&str) -> Option<String>, region: &str) -> Self {
        let url = var("AWS_ENDPOINT_URL_STS")
            .or_else(|| var("AWS_ENDPOINT_URL"))
            .unwrap_or_else(|| format!("https://sts.{region}.amazonaws.com"));
        StsEndpoint {
            url,
            region: region.to_owned(),
        }
    }
}

/// A role to assume, and how to ask for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RoleToAssume {
    pub arn: String,
    pub session_name: String,
    /// A profile's `external_id`, which a third party's role may require.
    pub external_id: Option<String>,
    /// A profile's `duration_seconds` (STS's default, an hour, otherwise).
    pub duration_secs: Option<u32>,
    pub sts: StsEndpoint,
    /// What names the role, for messages: `AWS profile "lab"` or `AWS_ROLE_ARN`.
    pub named_by: String,
}

/// The session name the AWS SDKs would make up, stable for the process (so that fetched
/// credentials are found again by the source that names it).
pub(crate) fn default_session_name() -> String {
    format!("neurovox-session-{}", std::process::id())
}

/// Assumes `role` with the web identity token in `token_file`, read now (the file is
/// rotated under a running process).
pub(super) fn assume_role_with_web_identity(
    role: &RoleToAssume,
    token_file: &Path,
) -> Result<(Credentials, Option<SystemTime>)> {
    let token = read_small_text(token_file, TOKEN_FILE_LIMIT).map_err(|e| {
        failed(
            role,
            format!(
                "needs the web identity token in {}: {e}",
                token_file.display()
            ),
        )
    })?;
    let mut form = vec![
        ("Action", "AssumeRoleWithWebIdentity".to_owned()),
        ("RoleArn", role.arn.clone()),
        ("RoleSessionName", role.session_name.clone()),
        ("WebIdentityToken", token.trim().to_owned()),
    ];
    if let Some(secs) = role.duration_secs {
        form.push(("DurationSeconds", secs.to_string()));
    }
    call(role, &form, None)
}

/// Assumes `role`, the request signed with `source`'s credentials.
pub(super) fn assume_role(
    role: &RoleToAssume,
    source: &Credentials,
) -> Result<(Credentials, Option<SystemTime>)> {
    let mut form = vec![
        ("Action", "AssumeRole".to_owned()),
        ("RoleArn", role.arn.clone()),
        ("RoleSessionName", role.session_name.clone()),
    ];
    if let Some(id) = &role.external_id {
        form.push(("ExternalId", id.clone()));
    }
    if let Some(secs) = role.duration_secs {
        form.push(("DurationSeconds", secs.to_string()));
    }
    call(role, &form, Some(source))
}

fn failed(role: &RoleToAssume, what: String) -> Error {
    Error::io(std::io::Error::other(format!(
        "assuming role {} ({}) through AWS STS at {} {what}",
        role.arn, role.named_by, role.sts.url
    )))
}

/// POSTs `form` (with the API version) to STS, signed with `signer` if given, and reads the
/// credentials of the answer; retried when STS fails in passing.
fn call(
    role: &RoleToAssume,
    form: &[(&str, String)],
    signer: Option<&Credentials>,
) -> Result<(Credentials, Option<SystemTime>)> {
    let body = form
        .iter()
        .map(|(name, value)| (*name, value.as_str()))
        .chain([("Version", STS_VERSION)])
        .map(|(name, value)| format!("{name}={}", uri_encode(value, false)))
        .collect::<Vec<_>>()
        .join("&");
    let agent = endpoint_agent(STS_TIMEOUT);
    let mut wait = Duration::from_millis(200);
    let mut attempt = 1;
    loop {
        let mut request = agent
            .post(&role.sts.url)
            .header("Content-Type", "application/x-www-form-urlencoded");
        if let Some(credentials) = signer {
            let headers = sign_form_post(
                &role.sts.url,
                &role.sts.region,
                "sts",
                &body,
                credentials,
                SystemTime::now(),
            );
            for (name, value) in headers {
                request = request.header(name, value);
            }
        }
        let answer = request
            .send(body.as_str())
            .map_err(|e| format!("did not answer: {e}"))
            .and_then(answer_text);
        let passing = match &answer {
            Err(_) => true,
            Ok((status, _)) => *status == 429 || *status >= 500,
        };
        if passing && attempt < STS_ATTEMPTS {
            std::thread::sleep(wait);
            wait *= 2;
            attempt += 1;
            continue;
        }
        let (status, text) = answer.map_err(|what| failed(role, what))?;
        if status != 200 {
            // STS's error document, or the first words of whatever else answered.
            let detail = match (element(&text, "Code"), element(&text, "Message")) {
                (Some(code), message) => format!("{code}: {}", message.unwrap_or_default()),
                (None, _) => text.trim().chars().take(200).collect(),
            };
            return Err(failed(
                role,
                format!("was refused (HTTP {status}): {detail}"),
            ));
        }
        let inner = inside(&text, "Credentials").unwrap_or_default();
        let field = |name| element(inner, name);
        return credentials_of_fields(
            field("AccessKeyId"),
            field("SecretAccessKey"),
            field("SessionToken"),
            field("Expiration"),
        )
        .map_err(|what| failed(role, format!("answered {what}")));
    }
}

/// The text inside the first `<name>…</name>` of `xml`, its five predefined entities and
/// numeric character references replaced; `None` if there is no such element.
fn element(xml: &str, name: &str) -> Option<String> {
    unescape(inside(xml, name)?)
}

/// What the first `<name>…</name>` of `xml` holds, as it is written.
fn inside<'a>(xml: &'a str, name: &str) -> Option<&'a str> {
    let open = format!("<{name}>");
    let start = xml.find(&open)? + open.len();
    let end = start + xml[start..].find(&format!("</{name}>"))?;
    Some(&xml[start..end])
}

/// XML text with its references replaced; `None` for a reference that is not one.
fn unescape(text: &str) -> Option<String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let semi = rest[amp..].find(';')? + amp;
        let reference = &rest[amp + 1..semi];
        let c = match reference {
            "amp" => '&',
            "lt" => '<',
            "gt" => '>',
            "quot" => '"',
            "apos" => '\'',
            _ => {
                let code = match reference.strip_prefix("#x") {
                    Some(hex) => u32::from_str_radix(hex, 16).ok()?,
                    None => reference.strip_prefix('#')?.parse().ok()?,
                };
                char::from_u32(code)?
            }
        };
        out.push(c);
        rest = &rest[semi + 1..];
    }
    out.push_str(rest);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::super::CredentialSource;
    use super::super::loopback::serve;
    use super::*;

    const ANSWER: &str = r#"<AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <AssumeRoleWithWebIdentityResult>
    <Credentials>
      <AccessKeyId>ASIAROLEKEY</AccessKeyId>
      <SecretAccessKey>se+cr/et</SecretAccessKey>
      <SessionToken>FQo&amp;token=</SessionToken>
      <Expiration>2999-01-01T00:00:00.555Z</Expiration>
    </Credentials>
  </AssumeRoleWithWebIdentityResult>
</AssumeRoleWithWebIdentityResponse>"#;

    fn role(url: &str) -> RoleToAssume {
        RoleToAssume {
            arn: "arn:aws:iam::123456789012:role/lab reader".into(),
            session_name: "s1".into(),
            external_id: None,
            duration_secs: Some(900),
            sts: StsEndpoint {
                url: url.into(),
                region: "eu-west-1".into(),
            },
            named_by: "AWS_ROLE_ARN".into(),
        }
    }

    /// The form fields of a request body, decoded.
    fn fields(body: &str) -> Vec<(String, String)> {
        body.split('&')
            .map(|pair| {
                let (k, v) = pair.split_once('=').unwrap();
                let mut bytes = Vec::new();
                let mut rest = v.as_bytes();
                while let Some((&b, tail)) = rest.split_first() {
                    if b == b'%' {
                        bytes.push(
                            u8::from_str_radix(std::str::from_utf8(&tail[..2]).unwrap(), 16)
                                .unwrap(),
                        );
                        rest = &tail[2..];
                    } else {
                        bytes.push(b);
                        rest = tail;
                    }
                }
                (k.to_owned(), String::from_utf8(bytes).unwrap())
            })
            .collect()
    }

    #[test]
    fn a_web_identity_token_is_exchanged_for_keys_without_a_signature() {
        let (origin, seen) = serve(vec![(200, ANSWER.into())]);
        let dir = tempfile::tempdir().unwrap();
        let token_file = dir.path().join("token");
        std::fs::write(&token_file, "eyJ.oidc-token\n").unwrap();
        let source = CredentialSource::WebIdentity {
            role: role(&origin),
            token_file: token_file.clone(),
        };
        for _ in 0..2 {
            let keys = source.current().unwrap();
            assert_eq!(
                (
                    keys.key_id.as_str(),
                    keys.secret.as_str(),
                    keys.session_token.as_deref()
                ),
                ("ASIAROLEKEY", "se+cr/et", Some("FQo&token="))
            );
        }
        let request = seen.recv().unwrap();
        assert!(seen.try_recv().is_err(), "asked once");
        assert_eq!(
            (request.method.as_str(), request.path.as_str()),
            ("POST", "/")
        );
        assert_eq!(
            request.header("content-type"),
            Some("application/x-www-form-urlencoded")
        );
        assert_eq!(request.header("authorization"), None);
        let sent = fields(&request.body);
        let expected = [
            ("Action", "AssumeRoleWithWebIdentity"),
            ("RoleArn", "arn:aws:iam::123456789012:role/lab reader"),
            ("RoleSessionName", "s1"),
            ("WebIdentityToken", "eyJ.oidc-token"),
            ("DurationSeconds", "900"),
            ("Version", "2011-06-15"),
        ];
        assert_eq!(
            sent,
            expected
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<Vec<_>>()
        );
        // A missing token file is named.
        let err = assume_role_with_web_identity(&role(&origin), &dir.path().join("gone"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("web identity token in") && err.contains("gone"),
            "{err}"
        );
        // A path that names no token file is not read whole.
        let err = assume_role_with_web_identity(&role(&origin), Path::new("/dev/zero"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("larger than 1048576 bytes"), "{err}");
    }

    #[test]
    fn an_assumed_role_is_asked_with_a_signed_request() {
        let answer = ANSWER.replace("WithWebIdentity", "");
        let (origin, seen) = serve(vec![(200, answer)]);
        let mut role = role(&format!("{origin}/"));
        role.external_id = Some("lab-42".into());
        role.duration_secs = None;
        let source = Credentials {
            key_id: "SOURCEKEY".into(),
            secret: "s".into(),
            session_token: Some("source-token".into()),
        };
        let (keys, expiry) = assume_role(&role, &source).unwrap();
        assert_eq!(keys.key_id, "ASIAROLEKEY");
        assert!(expiry.is_some());
        let request = seen.recv().unwrap();
        let authorization = request.header("authorization").unwrap();
        assert!(
            authorization.starts_with("AWS4-HMAC-SHA256 Credential=SOURCEKEY/")
                && authorization.contains("/eu-west-1/sts/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-security-token, Signature="),
            "{authorization}"
        );
        assert_eq!(request.header("x-amz-security-token"), Some("source-token"));
        let sent = fields(&request.body);
        assert!(sent.contains(&("Action".into(), "AssumeRole".into())));
        assert!(sent.contains(&("ExternalId".into(), "lab-42".into())));
        assert!(!sent.iter().any(|(k, _)| k == "DurationSeconds"));
    }

    #[test]
    fn sts_refusals_and_failures_say_what_sts_said() {
        let refusal = "<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code>\
                       <Message>Not authorized to perform sts:AssumeRole</Message></Error>\
                       </ErrorResponse>";
        let (origin, seen) = serve(vec![(403, refusal.into())]);
        let source = Credentials {
            key_id: "K".into(),
            secret: "S".into(),
            session_token: None,
        };
        let err = assume_role(&role(&origin), &source)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("arn:aws:iam::123456789012:role/lab reader (AWS_ROLE_ARN)")
                && err
                    .contains("HTTP 403): AccessDenied: Not authorized to perform sts:AssumeRole"),
            "{err}"
        );
        assert_eq!(seen.iter().count(), 1, "a refusal is not retried");

        // A gateway's page, not STS's document, after the retries: its first words.
        let (origin, _) = serve(vec![(502, "bad gateway".into()); 3]);
        let err = assume_role(&role(&origin), &source)
            .unwrap_err()
            .to_string();
        assert!(err.contains("(HTTP 502): bad gateway"), "{err}");

        // Throttled twice, then answered: retried.
        let (origin, seen) = serve(vec![
            (503, "slow down".into()),
            (429, "slow down".into()),
            (200, ANSWER.into()),
        ]);
        assert_eq!(
            assume_role(&role(&origin), &source).unwrap().0.key_id,
            "ASIAROLEKEY"
        );
        assert_eq!(seen.iter().count(), 3);

        let (origin, _) = serve(vec![(
            200,
            "<Credentials><AccessKeyId>K</AccessKeyId></Credentials>".into(),
        )]);
        let err = assume_role(&role(&origin), &source)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("answered no AccessKeyId and SecretAccessKey"),
            "{err}"
        );
    }

    #[test]
    fn xml_text_is_unescaped() {
        assert_eq!(
            element("<a>x &lt;&#65;&#x42;&gt; &quot;&apos;</a>", "a").as_deref(),
            Some("x <AB> \"'")
        );
        assert_eq!(element("<a>1</a><a>2</a>", "a").as_deref(), Some("1"));
        assert_eq!(element("<a>1", "a"), None);
        assert_eq!(element("<a>&bogus;</a>", "a"), None);
        assert_eq!(element("<a>&#xD800;</a>", "a"), None);
        assert_eq!(element("<a>&amp</a>", "a"), None);
    }
}
