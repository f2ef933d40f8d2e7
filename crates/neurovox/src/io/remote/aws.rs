//! The AWS settings an `s3://` URL is read with, found where the AWS CLI and boto3 find them:
//! credentials from `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY` / `AWS_SESSION_TOKEN`, else
//! the profile `AWS_PROFILE` (or `default`) of the shared credentials file
//! (`AWS_SHARED_CREDENTIALS_FILE`, else `~/.aws/credentials`); the region from `AWS_REGION` /
//! `AWS_DEFAULT_REGION`, else the profile's `region` in the config file (`AWS_CONFIG_FILE`,
//! else `~/.aws/config`), else `us-east-1`; a custom endpoint from `AWS_ENDPOINT_URL_S3` /
//! `AWS_ENDPOINT_URL`. `AWS_NO_SIGN_REQUEST=true`, or no credentials anywhere, reads
//! anonymously (public buckets such as OpenNeuro's need no account).
//!
//! The two files are INI text of `[section]` headers and `key = value` lines; the few lines
//! that read them are here rather than a crate, as no INI crate reads the AWS dialect
//! (`[profile NAME]` sections in one file, `[NAME]` in the other) without code of our own
//! around it.

use std::path::PathBuf;

pub(crate) use super::sigv4::Credentials as AwsCredentials;

/// What the environment and the AWS files say about S3 requests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AwsSettings {
    pub region: String,
    pub endpoint: Option<String>,
    pub credentials: Option<AwsCredentials>,
}

impl AwsSettings {
    /// The settings of this process's environment (the module docs say where from).
    pub(crate) fn from_env() -> Self {
        Self::from_lookup(&|name| std::env::var(name).ok().filter(|v| !v.is_empty()))
    }

    /// The settings `var` gives for environment variables (tests pass their own).
    pub(crate) fn from_lookup(var: &dyn Fn(&str) -> Option<String>) -> Self {
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
            Some(AwsCredentials {
                key_id,
                secret,
                session_token: var("AWS_SESSION_TOKEN"),
            })
        } else {
            let shared = file("AWS_SHARED_CREDENTIALS_FILE", "credentials");
            let value = |key| ini_value(&shared, &profile, key);
            match (value("aws_access_key_id"), value("aws_secret_access_key")) {
                (Some(key_id), Some(secret)) => Some(AwsCredentials {
                    key_id,
                    secret,
                    session_token: value("aws_session_token"),
                }),
                _ => None,
            }
        };
        AwsSettings {
            region,
            endpoint,
            credentials,
        }
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
        AwsSettings::from_lookup(&|name| vars.get(name).cloned())
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
        assert_eq!(s.credentials.as_ref().unwrap().key_id, "FILEKEY");
        let mut lab = files.to_vec();
        lab.push(("AWS_PROFILE", "lab"));
        let s = settings(&lab);
        assert_eq!(s.region, "ap-south-1");
        let c = s.credentials.unwrap();
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
            (s.region.as_str(), s.credentials.unwrap().key_id.as_str()),
            ("us-west-2", "ENVKEY")
        );
        env.push(("AWS_NO_SIGN_REQUEST", "true"));
        assert_eq!(settings(&env).credentials, None);
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
