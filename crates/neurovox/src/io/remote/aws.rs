//! The AWS settings an `s3://` URL is read with, found where the AWS CLI and boto3 find them.
//!
//! Credentials, the first found of:
//!
//! 1. `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY` / `AWS_SESSION_TOKEN`;
//! 2. the profile `AWS_PROFILE` (or `default`) in the shared credentials file
//!    (`AWS_SHARED_CREDENTIALS_FILE`, else `~/.aws/credentials`): its keys, or its
//!    `credential_process`;
//! 3. the same profile in the config file (`AWS_CONFIG_FILE`, else `~/.aws/config`,
//!    `[profile NAME]`): its keys, or its `credential_process`;
//! 4. the container credentials endpoint (`AWS_CONTAINER_CREDENTIALS_RELATIVE_URI` or
//!    `_FULL_URI`, with `AWS_CONTAINER_AUTHORIZATION_TOKEN[_FILE]`): ECS tasks, EKS Pod
//!    Identity.
//!
//! A `credential_process` and the container endpoint give temporary keys, fetched at the
//! first signed request and again before they expire (`credentials` module). Not read: EC2 instance roles (the metadata service), web identity tokens, SSO
//! sessions and roles to assume (docs/compat.md says what to do instead).
//!
//! The region from `AWS_REGION` / `AWS_DEFAULT_REGION`, else the profile's `region` in the
//! config file, else `us-east-1`; a custom endpoint from `AWS_ENDPOINT_URL_S3` /
//! `AWS_ENDPOINT_URL`. `AWS_NO_SIGN_REQUEST=true`, or no credentials anywhere, reads
//! anonymously (public buckets such as OpenNeuro's need no account).
//!
//! The two files are INI text of `[section]` headers and `key = value` lines; the few lines
//! that read them are here rather than a crate, as no INI crate reads the AWS dialect
//! (`[profile NAME]` sections in one file, `[NAME]` in the other) without code of our own
//! around it.

use std::path::PathBuf;

pub(crate) use super::credentials::CredentialSource;
pub(crate) use super::sigv4::Credentials as AwsCredentials;
use crate::error::Result;

/// What the environment and the AWS files say about S3 requests.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct AwsSettings {
    pub region: String,
    pub endpoint: Option<String>,
    pub credentials: Option<CredentialSource>,
}

impl AwsSettings {
    /// The settings of this process's environment (the module docs say where from). Errors
    /// (Usage): a container endpoint that is plain HTTP to another host.
    pub(crate) fn from_env() -> Result<Self> {
        Self::from_lookup(&|name| std::env::var(name).ok().filter(|v| !v.is_empty()))
    }

    /// The settings `var` gives for environment variables (tests pass their own).
    pub(crate) fn from_lookup(var: &dyn Fn(&str) -> Option<String>) -> Result<Self> {
        let profile = var("AWS_PROFILE").unwrap_or_else(|| "default".to_owned());
        let home = var("HOME").map(PathBuf::from);
        let file = |variable: &str, default: &str| {
            var(variable)
                .map(PathBuf::from)
                .or_else(|| home.as_ref().map(|h| h.join(".aws").join(default)))
                .and_then(|path| std::fs::read_to_string(path).ok())
                .unwrap_or_default()
        };
        let config = file("AWS_CONFIG_FILE", "config");
        let config_section = if profile == "default" {
            "default".to_owned()
        } else {
            format!("profile {profile}")
        };
        let region = var("AWS_REGION")
            .or_else(|| var("AWS_DEFAULT_REGION"))
            .or_else(|| ini_value(&config, &config_section, "region"))
            .unwrap_or_else(|| "us-east-1".to_owned());
        let endpoint = var("AWS_ENDPOINT_URL_S3").or_else(|| var("AWS_ENDPOINT_URL"));
        let anonymous = var("AWS_NO_SIGN_REQUEST")
            .is_some_and(|v| matches!(v.to_ascii_lowercase().as_str(), "true" | "1" | "yes"));
        let credentials = if anonymous {
            None
        } else if let (Some(key_id), Some(secret)) =
            (var("AWS_ACCESS_KEY_ID"), var("AWS_SECRET_ACCESS_KEY"))
        {
            Some(CredentialSource::Static(AwsCredentials {
                key_id,
                secret,
                session_token: var("AWS_SESSION_TOKEN"),
            }))
        } else {
            let shared = file("AWS_SHARED_CREDENTIALS_FILE", "credentials");
            match profile_source(&shared, &profile, &profile)
                .or_else(|| profile_source(&config, &config_section, &profile))
            {
                Some(source) => Some(source),
                None => super::credentials::container_source(var)?,
            }
        };
        Ok(AwsSettings {
            region,
            endpoint,
            credentials,
        })
    }
}

/// The credentials `[section]` of an AWS file gives `profile`: its keys, else its
/// `credential_process`.
fn profile_source(text: &str, section: &str, profile: &str) -> Option<CredentialSource> {
    let value = |key| ini_value(text, section, key);
    match (value("aws_access_key_id"), value("aws_secret_access_key")) {
        (Some(key_id), Some(secret)) => Some(CredentialSource::Static(AwsCredentials {
            key_id,
            secret,
            session_token: value("aws_session_token"),
        })),
        _ => value("credential_process").map(|command| CredentialSource::Process {
            command,
            profile: profile.to_owned(),
        }),
    }
}

/// The value of `key` in `[section]` of INI `text`, if set (comments start with `#` or `;`).
fn ini_value(text: &str, section: &str, key: &str) -> Option<String> {
    let mut inside = false;
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with(['#', ';']) {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            inside = name.trim() == section;
            continue;
        }
        if !inside {
            continue;
        }
        if let Some((k, v)) = line.split_once('=')
            && k.trim() == key
        {
            let v = v.trim();
            return (!v.is_empty()).then(|| v.to_owned());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn settings(vars: &[(&str, &str)]) -> AwsSettings {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        AwsSettings::from_lookup(&|name| vars.get(name).cloned()).unwrap()
    }

    /// The static keys a source holds (every source of these tests is one).
    fn keys(source: Option<CredentialSource>) -> AwsCredentials {
        match source {
            Some(CredentialSource::Static(keys)) => keys,
            other => panic!("not static keys: {other:?}"),
        }
    }

    #[test]
    fn the_environment_comes_before_the_files() {
        let dir = tempfile::tempdir().unwrap();
        let credentials = dir.path().join("credentials");
        std::fs::write(
            &credentials,
            "[default]\naws_access_key_id = FILEKEY\naws_secret_access_key = filesecret\n\
             [lab]\n# the lab's account\naws_access_key_id=LABKEY\naws_secret_access_key=labsecret\n\
             aws_session_token = labtoken\n",
        )
        .unwrap();
        let config = dir.path().join("config");
        std::fs::write(
            &config,
            "[default]\nregion = eu-west-1\n[profile lab]\nregion=ap-south-1\n",
        )
        .unwrap();
        let files = [
            ("AWS_SHARED_CREDENTIALS_FILE", credentials.to_str().unwrap()),
            ("AWS_CONFIG_FILE", config.to_str().unwrap()),
        ];
        let s = settings(&files);
        assert_eq!(s.region, "eu-west-1");
        assert_eq!(keys(s.credentials).key_id, "FILEKEY");
        let mut lab = files.to_vec();
        lab.push(("AWS_PROFILE", "lab"));
        let s = settings(&lab);
        assert_eq!(s.region, "ap-south-1");
        let c = keys(s.credentials);
        assert_eq!(
            (c.key_id.as_str(), c.session_token.as_deref()),
            ("LABKEY", Some("labtoken"))
        );
        let mut env = files.to_vec();
        env.extend([
            ("AWS_ACCESS_KEY_ID", "ENVKEY"),
            ("AWS_SECRET_ACCESS_KEY", "envsecret"),
            ("AWS_REGION", "us-west-2"),
        ]);
        let s = settings(&env);
        assert_eq!(
            (s.region.as_str(), keys(s.credentials).key_id.as_str()),
            ("us-west-2", "ENVKEY")
        );
        env.push(("AWS_NO_SIGN_REQUEST", "true"));
        assert_eq!(settings(&env).credentials, None);
    }

    #[test]
    fn profiles_give_keys_or_a_process_and_the_container_endpoint_comes_last() {
        let dir = tempfile::tempdir().unwrap();
        let credentials = dir.path().join("credentials");
        std::fs::write(
            &credentials,
            "[sso]\ncredential_process = aws-vault export sso\n",
        )
        .unwrap();
        let config = dir.path().join("config");
        std::fs::write(
            &config,
            "[profile sso]\ncredential_process = ignored: the credentials file comes first\n\
             [profile keys]\naws_access_key_id = CONFIGKEY\naws_secret_access_key = s\n\
             [profile helper]\ncredential_process = /opt/helper --json\n",
        )
        .unwrap();
        let container = (
            "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
            "/v2/credentials/task",
        );
        let with = |profile: &'static str| {
            let mut vars = vec![
                ("AWS_SHARED_CREDENTIALS_FILE", credentials.to_str().unwrap()),
                ("AWS_CONFIG_FILE", config.to_str().unwrap()),
                container,
            ];
            vars.push(("AWS_PROFILE", profile));
            settings(&vars).credentials
        };
        let process = |command: &str, profile: &str| {
            Some(CredentialSource::Process {
                command: command.into(),
                profile: profile.into(),
            })
        };
        assert_eq!(with("sso"), process("aws-vault export sso", "sso"));
        assert_eq!(keys(with("keys")).key_id, "CONFIGKEY");
        assert_eq!(with("helper"), process("/opt/helper --json", "helper"));
        assert_eq!(
            with("nowhere"),
            Some(CredentialSource::Container {
                url: "http://169.254.170.2/v2/credentials/task".into(),
                authorization: None,
            })
        );
        // Environment keys come before all of them.
        let env = settings(&[
            ("AWS_PROFILE", "sso"),
            ("AWS_SHARED_CREDENTIALS_FILE", credentials.to_str().unwrap()),
            ("AWS_ACCESS_KEY_ID", "ENVKEY"),
            ("AWS_SECRET_ACCESS_KEY", "e"),
            container,
        ]);
        assert_eq!(keys(env.credentials).key_id, "ENVKEY");
    }

    #[test]
    fn nothing_configured_is_anonymous_in_us_east_1() {
        let s = settings(&[("HOME", "/nonexistent")]);
        assert_eq!(
            s,
            AwsSettings {
                region: "us-east-1".into(),
                endpoint: None,
                credentials: None
            }
        );
        let debug = format!(
            "{:?}",
            AwsCredentials {
                key_id: "K".into(),
                secret: "never shown".into(),
                session_token: None,
            }
        );
        assert!(!debug.contains("never shown"), "{debug}");
    }
}
