//! The container credentials endpoint: what ECS tasks (`AWS_CONTAINER_CREDENTIALS_RELATIVE_URI`)
//! and EKS Pod Identity (`AWS_CONTAINER_CREDENTIALS_FULL_URI` with an authorization token)
//! give a workload.

use super::{
    CredentialSource, TOKEN_FILE_LIMIT, answer_text, credentials_of, endpoint_agent,
    read_small_text,
};
use crate::error::{Error, Result};
use crate::io::remote::sigv4::Credentials;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

/// How long the container endpoint may take to answer (it is on the same host or link).
const ENDPOINT_TIMEOUT: Duration = Duration::from_secs(5);

/// The `Authorization` value the container endpoint wants: given, or read from a file each
/// time (EKS rotates it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ContainerToken {
    Value(String),
    File(PathBuf),
}

/// Asks the container credentials endpoint for the task's or pod's credentials.
pub(super) fn fetch_container(
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
            read_small_text(path, TOKEN_FILE_LIMIT)
                .map_err(|e| failed(format!("needs the token in {}: {e}", path.display())))?
                .trim()
                .to_owned(),
        ),
    };
    let mut request = endpoint_agent(ENDPOINT_TIMEOUT).get(url);
    if let Some(token) = &token {
        request = request.header("Authorization", token);
    }
    let response = request
        .call()
        .map_err(|e| failed(format!("did not answer: {e}")))?;
    let (status, text) = answer_text(response).map_err(failed)?;
    if status != 200 {
        return Err(failed(format!("answered HTTP {status}: {}", text.trim())));
    }
    let json: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| failed(format!("answered no JSON: {e}")))?;
    credentials_of(&json, "Token").map_err(|what| failed(format!("answered {what}")))
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
    use super::super::loopback::serve;
    use super::*;

    #[test]
    fn the_container_endpoint_gives_keys_with_its_token() {
        let body = r#"{"AccessKeyId":"CONTKEY","SecretAccessKey":"s","Token":"t",
                       "Expiration":"2999-01-01T00:00:00Z"}"#;
        let (origin, seen) = serve(vec![(200, body.into())]);
        let url = format!("{origin}/v2/credentials/abc");
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
        let request = seen.recv().unwrap();
        assert_eq!(
            (request.method.as_str(), request.path.as_str()),
            ("GET", "/v2/credentials/abc")
        );
        assert_eq!(request.header("authorization"), Some("pod-token"));
        assert!(seen.try_recv().is_err(), "fetched once");

        let (origin, _) = serve(vec![(500, "busy".into())]);
        let url = format!("{origin}/v2/credentials/abc");
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
