//! The AWS settings an `s3://` URL is read with, found where the AWS CLI and boto3 find them.
//!
//! Credentials, the first found of (the order of the AWS CLI and boto3):
//!
//! 1. `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY` / `AWS_SESSION_TOKEN`;
//! 2. a profile (`AWS_PROFILE`, else `default`) with a `role_arn`: the role, assumed through
//!    STS with its `web_identity_token_file`, the credentials of its `source_profile` (which
//!    may be a role profile itself), or those its `credential_source` names (`Environment`,
//!    `EcsContainer`, `Ec2InstanceMetadata`); settings read from the credentials file, else
//!    the config file;
//! 3. `AWS_ROLE_ARN` with `AWS_WEB_IDENTITY_TOKEN_FILE` (and `AWS_ROLE_SESSION_NAME`): the
//!    role assumed with the token, as EKS service accounts set it up;
//! 4. the profile's SSO role (`sso_account_id`, `sso_role_name`, and an `sso_session` or
//!    the legacy `sso_start_url`), with the token `aws sso login` left in
//!    `~/.aws/sso/cache`;
//! 5. the profile in the shared credentials file (`AWS_SHARED_CREDENTIALS_FILE`, else
//!    `~/.aws/credentials`): its keys, or its `credential_process`;
//! 6. the same profile in the config file (`AWS_CONFIG_FILE`, else `~/.aws/config`,
//!    `[profile NAME]`): its keys, or its `credential_process`;
//! 7. the container credentials endpoint (`AWS_CONTAINER_CREDENTIALS_RELATIVE_URI` or
//!    `_FULL_URI`, with `AWS_CONTAINER_AUTHORIZATION_TOKEN[_FILE]`): ECS tasks, EKS Pod
//!    Identity;
//! 8. the EC2 instance's role, from the instance metadata service — asked only when an
//!    anonymous request is refused (the `credentials::instance` module says why), and never
//!    with `AWS_EC2_METADATA_DISABLED=true`.
//!
//! All but the first and plain keys give temporary credentials, fetched at the first signed
//! request and again before they expire (`credentials` module). Not read: roles that need
//! an MFA code (docs/compat.md says what to do instead). STS requests go to `AWS_ENDPOINT_URL_STS`, else `AWS_ENDPOINT_URL`,
//! else the region's STS endpoint.
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

pub(crate) use super::credentials::{CredentialSource, InstanceMetadata};
use super::credentials::{
    RoleToAssume, StsEndpoint, default_session_name, instance_metadata, read_small_text, sso_role,
};
pub(crate) use super::sigv4::Credentials as AwsCredentials;
use crate::error::{Error, Result};

/// What the environment and the AWS files say about S3 requests.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct AwsSettings {
    pub region: String,
    pub endpoint: Option<String>,
    pub credentials: Option<CredentialSource>,
    /// The instance metadata service to ask for a role's credentials when an anonymous
    /// request is refused: set when nothing else gives credentials and anonymous reads were
    /// not asked for (`credentials::instance` says why not first).
    pub instance_role: Option<InstanceMetadata>,
}

impl AwsSettings {
    /// The settings of this process's environment (the module docs say where from). Errors
    /// (Usage), each naming the setting: a container endpoint that is plain HTTP to another
    /// host; a role profile without a usable source, in a `source_profile` cycle, or with an
    /// `mfa_serial`; SSO settings that are not complete.
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
                .and_then(|path| read_small_text(&path, CONFIG_FILE_LIMIT).ok())
                .unwrap_or_default()
        };
        let files = AwsFiles {
            credentials: file("AWS_SHARED_CREDENTIALS_FILE", "credentials"),
            config: file("AWS_CONFIG_FILE", "config"),
            sso_cache: home
                .as_ref()
                .map(|h| h.join(".aws").join("sso").join("cache")),
        };
        let region = var("AWS_REGION")
            .or_else(|| var("AWS_DEFAULT_REGION"))
            .or_else(|| ini_value(&files.config, &config_section(&profile), "region"))
            .unwrap_or_else(|| "us-east-1".to_owned());
        let endpoint = var("AWS_ENDPOINT_URL_S3").or_else(|| var("AWS_ENDPOINT_URL"));
        let anonymous = var("AWS_NO_SIGN_REQUEST")
            .is_some_and(|v| matches!(v.to_ascii_lowercase().as_str(), "true" | "1" | "yes"));
        let credentials = if anonymous {
            None
        } else if let Some(keys) = environment_keys(var) {
            Some(keys)
        } else if files.value(&profile, "role_arn").is_some() {
            files.profile_credentials(&profile, var, &region, &mut Vec::new())?
        } else if let (Some(arn), Some(token_file)) =
            (var("AWS_ROLE_ARN"), var("AWS_WEB_IDENTITY_TOKEN_FILE"))
        {
            Some(CredentialSource::WebIdentity {
                role: RoleToAssume {
                    arn,
                    session_name: var("AWS_ROLE_SESSION_NAME").unwrap_or_else(default_session_name),
                    external_id: None,
                    duration_secs: None,
                    sts: StsEndpoint::from_lookup(var, &region),
                    named_by: "AWS_ROLE_ARN".into(),
                },
                token_file: PathBuf::from(token_file),
            })
        } else {
            match files.own_credentials(&profile, var)? {
                Some(source) => Some(source),
                None => super::credentials::container_source(var)?,
            }
        };
        let instance_role = if anonymous || credentials.is_some() {
            None
        } else {
            instance_metadata(var)
        };
        Ok(AwsSettings {
            region,
            endpoint,
            credentials,
            instance_role,
        })
    }
}

/// `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY` (with `AWS_SESSION_TOKEN`), if both are
/// set.
fn environment_keys(var: &dyn Fn(&str) -> Option<String>) -> Option<CredentialSource> {
    let (key_id, secret) = (var("AWS_ACCESS_KEY_ID")?, var("AWS_SECRET_ACCESS_KEY")?);
    Some(CredentialSource::Static(AwsCredentials {
        key_id,
        secret,
        session_token: var("AWS_SESSION_TOKEN"),
    }))
}

/// The section of the config file that holds `profile`: `[default]` or `[profile NAME]`.
fn config_section(profile: &str) -> String {
    if profile == "default" {
        "default".to_owned()
    } else {
        format!("profile {profile}")
    }
}

/// The most of an AWS credentials or config file that is read (they are a few KiB; one
/// larger is read as absent).
const CONFIG_FILE_LIMIT: u64 = 16 << 20;

/// How many roles a profile may chain through `source_profile` (the AWS CLI has no limit but
/// a cycle check; a chain this long is a mistake).
const MAX_ROLE_CHAIN: usize = 8;

/// The shared credentials file and the config file, as text, and where `aws sso login`
/// keeps its tokens.
struct AwsFiles {
    credentials: String,
    config: String,
    sso_cache: Option<PathBuf>,
}

impl AwsFiles {
    /// A setting of `profile`: from the credentials file, else the config file.
    fn value(&self, profile: &str, key: &str) -> Option<String> {
        ini_value(&self.credentials, profile, key)
            .or_else(|| ini_value(&self.config, &config_section(profile), key))
    }

    /// The credentials of `profile` itself: its SSO role, else its keys or
    /// `credential_process` (the credentials file first). Errors (Usage): SSO settings that
    /// are not complete.
    fn own_credentials(
        &self,
        profile: &str,
        var: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Option<CredentialSource>> {
        let value = |key: &str| self.value(profile, key);
        let session =
            |name: &str, key: &str| ini_value(&self.config, &format!("sso-session {name}"), key);
        if let Some(role) = sso_role(profile, &value, &session, var, self.sso_cache.clone())? {
            return Ok(Some(CredentialSource::Sso(role)));
        }
        Ok(profile_source(&self.credentials, profile, profile)
            .or_else(|| profile_source(&self.config, &config_section(profile), profile)))
    }

    /// The credentials of `profile`: a role it assumes (with a web identity token, the
    /// credentials of its `source_profile`, or those its `credential_source` names), else its
    /// own. `chain` holds the profiles that led here. Errors (Usage): a role profile that
    /// says no source, or one neurovox cannot use (`mfa_serial`), or a cycle.
    fn profile_credentials(
        &self,
        profile: &str,
        var: &dyn Fn(&str) -> Option<String>,
        region: &str,
        chain: &mut Vec<String>,
    ) -> Result<Option<CredentialSource>> {
        let Some(arn) = self.value(profile, "role_arn") else {
            return self.own_credentials(profile, var);
        };
        let named_by = format!("AWS profile {profile:?}");
        let usage = |what: &str| Err(Error::usage(format!("{named_by} {what}")));
        if chain.iter().any(|p| p == profile) || chain.len() >= MAX_ROLE_CHAIN {
            return usage(&format!(
                "is reached again through source_profile ({} -> {profile})",
                chain.join(" -> ")
            ));
        }
        chain.push(profile.to_owned());
        if self.value(profile, "mfa_serial").is_some() {
            return usage(
                "assumes its role with an MFA code (mfa_serial), which neurovox cannot ask \
                 for: give it credentials instead (`aws configure export-credentials`)",
            );
        }
        let duration_secs = match self.value(profile, "duration_seconds") {
            None => None,
            Some(secs) => match secs.parse::<u32>() {
                Ok(secs) => Some(secs),
                Err(_) => return usage(&format!("has duration_seconds {secs:?}, not a number")),
            },
        };
        let role = RoleToAssume {
            arn,
            session_name: self
                .value(profile, "role_session_name")
                .unwrap_or_else(default_session_name),
            external_id: self.value(profile, "external_id"),
            duration_secs,
            sts: StsEndpoint::from_lookup(var, region),
            named_by: named_by.clone(),
        };
        if let Some(token_file) = self.value(profile, "web_identity_token_file") {
            return Ok(Some(CredentialSource::WebIdentity {
                role,
                token_file: PathBuf::from(token_file),
            }));
        }
        let source = match (
            self.value(profile, "source_profile"),
            self.value(profile, "credential_source"),
        ) {
            (Some(_), Some(_)) => {
                return usage("names both a source_profile and a credential_source");
            }
            // A profile may be its own source: its keys assume its role.
            (Some(source), None) if source == profile => self.own_credentials(profile, var)?,
            (Some(source), None) => self.profile_credentials(&source, var, region, chain)?,
            (None, Some(named)) => match named.as_str() {
                "Environment" => environment_keys(var),
                "EcsContainer" => super::credentials::container_source(var)?,
                "Ec2InstanceMetadata" => instance_metadata(var).map(CredentialSource::Instance),
                other => {
                    return usage(&format!(
                        "has credential_source {other:?}; Environment, EcsContainer or \
                         Ec2InstanceMetadata are known"
                    ));
                }
            },
            (None, None) => {
                return usage(
                    "has a role_arn but no source_profile, credential_source or \
                     web_identity_token_file to assume it with",
                );
            }
        };
        let Some(source) = source else {
            return usage("has a role_arn whose source gives no credentials");
        };
        Ok(Some(CredentialSource::AssumeRole {
            role,
            source: Box::new(source),
        }))
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
                credentials: None,
                // Asked only if an anonymous request is refused.
                instance_role: Some(InstanceMetadata {
                    endpoint: "http://169.254.169.254".into(),
                    timeout: std::time::Duration::from_secs(1),
                    v1_allowed: true,
                }),
            }
        );
        for off in [
            ("AWS_NO_SIGN_REQUEST", "true"),
            ("AWS_EC2_METADATA_DISABLED", "true"),
        ] {
            assert_eq!(
                settings(&[("HOME", "/nonexistent"), off]).instance_role,
                None
            );
        }
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

    /// The role a source assumes, and what it assumes it with.
    fn assumed(source: Option<CredentialSource>) -> (RoleToAssume, CredentialSource) {
        match source {
            Some(CredentialSource::AssumeRole { role, source }) => (role, *source),
            other => panic!("no role assumed: {other:?}"),
        }
    }

    #[test]
    fn role_profiles_assume_their_role_with_the_source_they_name() {
        let dir = tempfile::tempdir().unwrap();
        let credentials = dir.path().join("credentials");
        std::fs::write(
            &credentials,
            "[base]\naws_access_key_id = BASEKEY\naws_secret_access_key = b\n\
             [self]\naws_access_key_id = SELFKEY\naws_secret_access_key = s\n\
             role_arn = arn:aws:iam::1:role/self\nsource_profile = self\n",
        )
        .unwrap();
        let config = dir.path().join("config");
        let role = |name: &str, rest: &str| {
            format!("[profile {name}]\nrole_arn = arn:aws:iam::1:role/{name}\n{rest}")
        };
        let profiles = [
            role(
                "reader",
                "source_profile = base\nexternal_id = lab-42\nrole_session_name = alice\n\
                 duration_seconds = 900\n",
            ),
            role("chained", "source_profile = reader\n"),
            role("ec2", "credential_source = Ec2InstanceMetadata\n"),
            role("env", "credential_source = Environment\n"),
            role("oidc", "web_identity_token_file = /run/token\n"),
            role(
                "mfa",
                "source_profile = base\nmfa_serial = arn:aws:iam::1:mfa/a\n",
            ),
            role("loop1", "source_profile = loop2\n"),
            role("loop2", "source_profile = loop1\n"),
            role("nosource", ""),
            role(
                "both",
                "source_profile = base\ncredential_source = Environment\n",
            ),
            role("unknown", "credential_source = Laptop\n"),
            role("empty", "source_profile = nobody\n"),
            role(
                "long",
                "source_profile = base\nduration_seconds = an hour\n",
            ),
            "[profile sso]\nsso_session = lab\nsso_account_id = 1\nsso_role_name = R\n\
             [sso-session lab]\nsso_region = eu-north-1\nsso_start_url = https://x/start\n"
                .to_owned(),
            role("viasso", "source_profile = sso\n"),
        ];
        std::fs::write(&config, profiles.concat()).unwrap();
        let lookup = |profile: &str, extra: &[(&str, &str)]| {
            let mut vars: HashMap<String, String> = [
                ("AWS_SHARED_CREDENTIALS_FILE", credentials.to_str().unwrap()),
                ("AWS_CONFIG_FILE", config.to_str().unwrap()),
                ("AWS_PROFILE", profile),
                ("AWS_REGION", "eu-west-1"),
            ]
            .iter()
            .chain(extra)
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
            vars.retain(|_, v| !v.is_empty());
            AwsSettings::from_lookup(&|name| vars.get(name).cloned())
        };
        let s = lookup("reader", &[]).unwrap();
        assert_eq!(s.instance_role, None, "a role needs no metadata service");
        let (role, source) = assumed(s.credentials);
        assert_eq!(
            role,
            RoleToAssume {
                arn: "arn:aws:iam::1:role/reader".into(),
                session_name: "alice".into(),
                external_id: Some("lab-42".into()),
                duration_secs: Some(900),
                sts: StsEndpoint {
                    url: "https://sts.eu-west-1.amazonaws.com".into(),
                    region: "eu-west-1".into()
                },
                named_by: "AWS profile \"reader\"".into(),
            }
        );
        assert_eq!(keys(Some(source)).key_id, "BASEKEY");
        // A chain: chained's role is assumed with reader's, itself assumed with base's keys;
        // STS is where AWS_ENDPOINT_URL_STS says.
        let custom = [("AWS_ENDPOINT_URL_STS", "http://127.0.0.1:5000")];
        let (role, source) = assumed(lookup("chained", &custom).unwrap().credentials);
        assert_eq!(role.session_name, default_session_name());
        assert_eq!(role.sts.url, "http://127.0.0.1:5000");
        let (inner, base) = assumed(Some(source));
        assert_eq!(
            (inner.arn.as_str(), keys(Some(base)).key_id.as_str()),
            ("arn:aws:iam::1:role/reader", "BASEKEY")
        );
        // Its own source: the profile's keys assume its role.
        let (role, source) = assumed(lookup("self", &[]).unwrap().credentials);
        assert_eq!(
            (role.arn.as_str(), keys(Some(source)).key_id.as_str()),
            ("arn:aws:iam::1:role/self", "SELFKEY")
        );
        let (_, source) = assumed(lookup("ec2", &[]).unwrap().credentials);
        assert!(
            matches!(source, CredentialSource::Instance(_)),
            "{source:?}"
        );
        match lookup("oidc", &[]).unwrap().credentials {
            Some(CredentialSource::WebIdentity { role, token_file }) => assert_eq!(
                (role.arn.as_str(), token_file.to_str()),
                ("arn:aws:iam::1:role/oidc", Some("/run/token"))
            ),
            other => panic!("{other:?}"),
        }
        // An SSO profile, as itself and as a role's source.
        match lookup("sso", &[("HOME", "/home/u")]).unwrap().credentials {
            Some(CredentialSource::Sso(role)) => {
                assert_eq!(
                    (role.account_id.as_str(), role.role_name.as_str()),
                    ("1", "R")
                );
                assert_eq!(role.portal, "https://portal.sso.eu-north-1.amazonaws.com");
                assert!(role.token_file.starts_with("/home/u/.aws/sso/cache"));
            }
            other => panic!("{other:?}"),
        }
        let (_, source) = assumed(
            lookup("viasso", &[("HOME", "/home/u")])
                .unwrap()
                .credentials,
        );
        assert!(matches!(source, CredentialSource::Sso(_)), "{source:?}");
        // Environment keys come before any profile, as in the AWS CLI.
        let environment = [
            ("AWS_ACCESS_KEY_ID", "ENVKEY"),
            ("AWS_SECRET_ACCESS_KEY", "e"),
        ];
        let s = lookup("reader", &environment).unwrap();
        assert_eq!(keys(s.credentials).key_id, "ENVKEY");
        for (profile, words) in [
            ("env", "whose source gives no credentials"),
            ("empty", "whose source gives no credentials"),
            ("mfa", "MFA code (mfa_serial)"),
            (
                "loop1",
                "reached again through source_profile (loop1 -> loop2 -> loop1)",
            ),
            (
                "nosource",
                "no source_profile, credential_source or web_identity_token_file",
            ),
            ("both", "both a source_profile and a credential_source"),
            ("unknown", "credential_source \"Laptop\""),
            ("long", "duration_seconds \"an hour\""),
        ] {
            let err = lookup(profile, &[]).unwrap_err().to_string();
            assert!(
                err.contains(&format!("AWS profile \"{profile}\"")) && err.contains(words),
                "{profile}: {err}"
            );
        }
    }

    #[test]
    fn web_identity_variables_come_before_the_profiles_keys() {
        let dir = tempfile::tempdir().unwrap();
        let credentials = dir.path().join("credentials");
        std::fs::write(
            &credentials,
            "[default]\naws_access_key_id = FILEKEY\naws_secret_access_key = f\n",
        )
        .unwrap();
        let mut vars = vec![
            ("AWS_SHARED_CREDENTIALS_FILE", credentials.to_str().unwrap()),
            ("AWS_ROLE_ARN", "arn:aws:iam::1:role/pod"),
            ("AWS_WEB_IDENTITY_TOKEN_FILE", "/var/run/secrets/token"),
            ("AWS_DEFAULT_REGION", "ap-south-1"),
        ];
        match settings(&vars).credentials {
            Some(CredentialSource::WebIdentity { role, token_file }) => {
                assert_eq!(role.arn, "arn:aws:iam::1:role/pod");
                assert_eq!(role.named_by, "AWS_ROLE_ARN");
                assert_eq!(role.session_name, default_session_name());
                assert_eq!(role.sts.url, "https://sts.ap-south-1.amazonaws.com");
                assert_eq!(token_file, PathBuf::from("/var/run/secrets/token"));
            }
            other => panic!("{other:?}"),
        }
        vars.push(("AWS_ROLE_SESSION_NAME", "job-7"));
        match settings(&vars).credentials {
            Some(CredentialSource::WebIdentity { role, .. }) => {
                assert_eq!(role.session_name, "job-7")
            }
            other => panic!("{other:?}"),
        }
        // Without the token file the role is not assumed: the profile's keys sign.
        vars.retain(|(name, _)| *name != "AWS_WEB_IDENTITY_TOKEN_FILE");
        assert_eq!(keys(settings(&vars).credentials).key_id, "FILEKEY");
    }
}
