//! AWS IAM Identity Center (SSO) profiles: the role credentials of an `aws sso login`
//! session.
//!
//! A profile names an account and a role (`sso_account_id`, `sso_role_name`) and its SSO
//! session: an `[sso-session NAME]` section of the config file (`sso_session = NAME`, with
//! `sso_start_url` and `sso_region`), or the legacy `sso_start_url` / `sso_region` of the
//! profile itself. `aws sso login` leaves the session's access token in
//! `~/.aws/sso/cache/SHA1.json`, named by the SHA-1 of the session's name (or, legacy, of
//! its start URL); the token buys the role's keys from the SSO portal
//! (`GET /federation/credentials`). A token that has expired is not refreshed here (the AWS
//! CLI refreshes it at its next use, or `aws sso login` makes a new one): the error says so.

use super::{
    TOKEN_FILE_LIMIT, answer_text, credentials_of_fields, endpoint_agent, parse_rfc3339,
    read_small_text,
};
use crate::error::{Error, Result};
use crate::io::remote::sigv4::{Credentials, hex, uri_encode};
use sha1::{Digest, Sha1};
use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How long the SSO portal may take to answer.
const PORTAL_TIMEOUT: Duration = Duration::from_secs(10);

/// The role an SSO profile signs in as, and where its session's token is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SsoRole {
    pub account_id: String,
    pub role_name: String,
    /// The portal's origin: `AWS_ENDPOINT_URL_SSO`, else `AWS_ENDPOINT_URL`, else
    /// `https://portal.sso.REGION.amazonaws.com`.
    pub portal: String,
    /// The session's token cache file.
    pub token_file: PathBuf,
    /// The profile, for messages.
    pub profile: String,
}

/// The SSO role of `profile`, if its settings (`value(key)`, the profile's own, and
/// `session(key)`, its `[sso-session]` section's) name one. `cache_dir` is
/// `~/.aws/sso/cache`. Errors (Usage): a profile with some SSO settings but not all.
pub(crate) fn sso_role(
    profile: &str,
    value: &dyn Fn(&str) -> Option<String>,
    session: &dyn Fn(&str, &str) -> Option<String>,
    var: &dyn Fn(&str) -> Option<String>,
    cache_dir: Option<PathBuf>,
) -> Result<Option<SsoRole>> {
    let session_name = value("sso_session");
    if session_name.is_none() && value("sso_start_url").is_none() {
        return Ok(None);
    }
    let missing = |what: &str| {
        Err(Error::usage(format!(
            "AWS profile {profile:?} signs in with SSO but has no {what}"
        )))
    };
    // The cache is named by the session's name, or (legacy) by the start URL.
    let (cache_key, region) = match &session_name {
        Some(name) => (name.clone(), session(name, "sso_region")),
        None => (
            value("sso_start_url").unwrap_or_default(),
            value("sso_region"),
        ),
    };
    let Some(region) = region else {
        return missing("sso_region");
    };
    let (Some(account_id), Some(role_name)) = (value("sso_account_id"), value("sso_role_name"))
    else {
        return missing("sso_account_id and sso_role_name");
    };
    let Some(cache_dir) = cache_dir else {
        return missing("home directory for its token cache (HOME)");
    };
    let name = hex(&Sha1::digest(cache_key.as_bytes()));
    let portal = var("AWS_ENDPOINT_URL_SSO")
        .or_else(|| var("AWS_ENDPOINT_URL"))
        .unwrap_or_else(|| format!("https://portal.sso.{region}.amazonaws.com"));
    Ok(Some(SsoRole {
        account_id,
        role_name,
        portal: portal.trim_end_matches('/').to_owned(),
        token_file: cache_dir.join(format!("{name}.json")),
        profile: profile.to_owned(),
    }))
}

impl SsoRole {
    /// The role's keys, bought from the portal with the session's token.
    pub(super) fn fetch(&self) -> Result<(Credentials, Option<SystemTime>)> {
        let failed = |what: String| {
            Error::io(std::io::Error::other(format!(
                "the SSO session of AWS profile {:?} {what}",
                self.profile
            )))
        };
        let login = format!(
            "run `aws sso login --profile {}` (or set AWS_NO_SIGN_REQUEST=true to read a \
             public bucket anonymously)",
            self.profile
        );
        let cached = read_small_text(&self.token_file, TOKEN_FILE_LIMIT).map_err(|e| {
            failed(format!(
                "has no token in {} ({e}): {login}",
                self.token_file.display()
            ))
        })?;
        let cached: serde_json::Value = serde_json::from_str(&cached).map_err(|e| {
            failed(format!(
                "has an unreadable token cache {}: {e}",
                self.token_file.display()
            ))
        })?;
        let (Some(token), Some(expires)) =
            (cached["accessToken"].as_str(), cached["expiresAt"].as_str())
        else {
            return Err(failed(format!(
                "has no accessToken and expiresAt in {}: {login}",
                self.token_file.display()
            )));
        };
        // The AWS CLI v1 wrote `...UTC` where RFC 3339 has `Z`.
        let stamp = expires.strip_suffix("UTC").map(|s| format!("{s}Z"));
        let expiry = parse_rfc3339(stamp.as_deref().unwrap_or(expires))
            .ok_or_else(|| failed(format!("has an unreadable expiresAt {expires:?}")))?;
        if expiry <= SystemTime::now() {
            return Err(failed(format!("expired at {expires}: {login}")));
        }
        let url = format!(
            "{}/federation/credentials?account_id={}&role_name={}",
            self.portal,
            uri_encode(&self.account_id, false),
            uri_encode(&self.role_name, false)
        );
        let response = endpoint_agent(PORTAL_TIMEOUT)
            .get(&url)
            .header("x-amz-sso_bearer_token", token)
            .call()
            .map_err(|e| failed(format!("got no answer from {}: {e}", self.portal)))?;
        let (status, body) =
            answer_text(response).map_err(|what| failed(format!("{what} ({})", self.portal)))?;
        if status == 401 || status == 403 {
            return Err(failed(format!(
                "was refused by {} (HTTP {status}): {login}",
                self.portal
            )));
        }
        if status != 200 {
            return Err(failed(format!(
                "got HTTP {status} from {}: {}",
                self.portal,
                body.trim()
            )));
        }
        let json: serde_json::Value = serde_json::from_str(&body)
            .map_err(|e| failed(format!("got no JSON from {}: {e}", self.portal)))?;
        let role = &json["roleCredentials"];
        let text = |key: &str| role[key].as_str().map(str::to_owned);
        let (credentials, _) = credentials_of_fields(
            text("accessKeyId"),
            text("secretAccessKey"),
            text("sessionToken"),
            None,
        )
        .map_err(|what| failed(format!("got {what} from {}", self.portal)))?;
        // The portal gives the expiry in milliseconds since 1970.
        let expiry = role["expiration"]
            .as_u64()
            .map(|ms| UNIX_EPOCH + Duration::from_millis(ms));
        Ok((credentials, expiry))
    }
}

#[cfg(test)]
mod tests {
    use super::super::loopback::serve;
    use super::*;

    fn role(portal: &str, token_file: PathBuf) -> SsoRole {
        SsoRole {
            account_id: "123456789012".into(),
            role_name: "Lab Reader".into(),
            portal: portal.into(),
            token_file,
            profile: "lab".into(),
        }
    }

    #[test]
    fn profiles_name_their_session_cache_and_portal() {
        let settings = |pairs: &'static [(&'static str, &'static str)]| {
            move |key: &str| {
                pairs
                    .iter()
                    .find(|(k, _)| *k == key)
                    .map(|(_, v)| v.to_string())
            }
        };
        let sessions = |name: &str, key: &str| {
            (name == "my-sso" && key == "sso_region").then(|| "eu-west-1".to_owned())
        };
        let none = |_: &str| None;
        let cache = Some(PathBuf::from("/home/u/.aws/sso/cache"));
        let modern = settings(&[
            ("sso_session", "my-sso"),
            ("sso_account_id", "123456789012"),
            ("sso_role_name", "Reader"),
        ]);
        let role = sso_role("lab", &modern, &sessions, &none, cache.clone())
            .unwrap()
            .unwrap();
        // `printf my-sso | sha1sum`
        assert_eq!(
            role.token_file,
            PathBuf::from("/home/u/.aws/sso/cache/0ad374308c5a4e22f723adf10145eafad7c4031c.json")
        );
        assert_eq!(role.portal, "https://portal.sso.eu-west-1.amazonaws.com");
        let legacy = settings(&[
            ("sso_start_url", "https://lab.awsapps.com/start"),
            ("sso_region", "us-east-2"),
            ("sso_account_id", "1"),
            ("sso_role_name", "R"),
        ]);
        let endpoint =
            |name: &str| (name == "AWS_ENDPOINT_URL_SSO").then(|| "http://127.0.0.1:9/".to_owned());
        let role = sso_role("old", &legacy, &sessions, &endpoint, cache.clone())
            .unwrap()
            .unwrap();
        // `printf https://lab.awsapps.com/start | sha1sum`
        assert!(
            role.token_file
                .ends_with("7377e82004c017d627d7348cacd973870d0d9f18.json"),
            "{:?}",
            role.token_file
        );
        assert_eq!(role.portal, "http://127.0.0.1:9");
        assert_eq!(
            sso_role("plain", &none, &sessions, &none, cache.clone()).unwrap(),
            None
        );
        let half = settings(&[("sso_session", "my-sso")]);
        let err = sso_role("half", &half, &sessions, &none, cache)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("AWS profile \"half\" signs in with SSO but has no sso_account_id"),
            "{err}"
        );
    }

    #[test]
    fn a_session_token_buys_the_role_keys() {
        let dir = tempfile::tempdir().unwrap();
        let token_file = dir.path().join("cache.json");
        std::fs::write(
            &token_file,
            r#"{"startUrl":"https://lab.awsapps.com/start","region":"eu-west-1",
                "accessToken":"sso-token","expiresAt":"2999-01-01T00:00:00Z"}"#,
        )
        .unwrap();
        let answer = r#"{"roleCredentials":{"accessKeyId":"ASIASSO","secretAccessKey":"s",
                         "sessionToken":"t","expiration":32503680000000}}"#;
        let (origin, seen) = serve(vec![(200, answer.into())]);
        let (keys, expiry) = role(&origin, token_file.clone()).fetch().unwrap();
        assert_eq!(
            (keys.key_id.as_str(), keys.session_token.as_deref()),
            ("ASIASSO", Some("t"))
        );
        assert_eq!(
            expiry,
            Some(UNIX_EPOCH + Duration::from_secs(32_503_680_000))
        );
        let request = seen.recv().unwrap();
        assert_eq!(
            (request.method.as_str(), request.path.as_str()),
            (
                "GET",
                "/federation/credentials?account_id=123456789012&role_name=Lab%20Reader"
            )
        );
        assert_eq!(request.header("x-amz-sso_bearer_token"), Some("sso-token"));
    }

    #[test]
    fn an_expired_or_missing_session_says_to_log_in() {
        let dir = tempfile::tempdir().unwrap();
        let gone = role("http://127.0.0.1:9", dir.path().join("none.json"))
            .fetch()
            .unwrap_err()
            .to_string();
        assert!(
            gone.contains("has no token in") && gone.contains("aws sso login --profile lab"),
            "{gone}"
        );
        let token_file = dir.path().join("old.json");
        std::fs::write(
            &token_file,
            r#"{"accessToken":"t","expiresAt":"2019-11-14T04:05:45UTC"}"#,
        )
        .unwrap();
        let expired = role("http://127.0.0.1:9", token_file.clone())
            .fetch()
            .unwrap_err()
            .to_string();
        assert!(
            expired.contains("expired at 2019-11-14T04:05:45UTC"),
            "{expired}"
        );
        std::fs::write(
            &token_file,
            r#"{"accessToken":"t","expiresAt":"2999-01-01T00:00:00Z"}"#,
        )
        .unwrap();
        let (origin, _) = serve(vec![(401, "{}".into())]);
        let refused = role(&origin, token_file).fetch().unwrap_err().to_string();
        assert!(
            refused.contains("HTTP 401") && refused.contains("aws sso login"),
            "{refused}"
        );
    }
}
