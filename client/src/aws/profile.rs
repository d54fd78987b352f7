//! Credentials from the shared files: `~/.aws/credentials` (`AWS_SHARED_CREDENTIALS_FILE`) and
//! `~/.aws/config` (`AWS_CONFIG_FILE`), for the profile `AWS_PROFILE` (default `default`).
//!
//! Static keys (`aws_access_key_id`, `aws_secret_access_key`, `aws_session_token`) are read from
//! either file, the credentials file winning; a profile with `role_arn` and
//! `web_identity_token_file` assumes that role through STS. Profiles that need other machinery
//! (`source_profile` role chaining, `credential_process`, SSO) are reported as such rather than
//! skipped silently.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::sts::WebIdentityProvider;
use super::{AwsError, BoxFuture, Credentials, Env, ProvideCredentials, Result};

const SOURCE: &str = "profile";

/// Credentials of one profile of the shared files.
#[derive(Debug, Clone)]
pub struct ProfileProvider {
    env: Env,
    profile: Option<String>,
}

/// The settings of the sections of one file, by profile name.
type Sections = HashMap<String, HashMap<String, String>>;

impl ProfileProvider {
    /// Reads the files `env` points at; `profile` overrides `AWS_PROFILE`.
    pub fn new(env: Env, profile: Option<String>) -> Self {
        ProfileProvider { env, profile }
    }

    fn profile_name(&self) -> String {
        self.profile
            .clone()
            .or_else(|| self.env.get("AWS_PROFILE"))
            .unwrap_or_else(|| "default".to_owned())
    }

    fn path(&self, variable: &str, default: &str) -> Option<PathBuf> {
        let home = self.env.get("HOME").or_else(|| self.env.get("USERPROFILE"));
        match self.env.get(variable) {
            Some(p) => Some(match (p.strip_prefix("~/"), &home) {
                (Some(rest), Some(home)) => Path::new(home).join(rest),
                _ => PathBuf::from(p),
            }),
            None => home.map(|h| Path::new(&h).join(".aws").join(default)),
        }
    }

    /// The merged settings of the selected profile, or why there are none.
    fn settings(&self) -> Result<(String, HashMap<String, String>)> {
        let name = self.profile_name();
        let mut merged: Option<HashMap<String, String>> = None;
        let mut looked = Vec::new();
        // The config file first, so that the credentials file overrides it.
        for (variable, default, is_config) in [
            ("AWS_CONFIG_FILE", "config", true),
            ("AWS_SHARED_CREDENTIALS_FILE", "credentials", false),
        ] {
            let Some(path) = self.path(variable, default) else {
                continue;
            };
            let text = match std::fs::read_to_string(&path) {
                Ok(text) => text,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    looked.push(format!("{} does not exist", path.display()));
                    continue;
                }
                Err(source) => return Err(AwsError::Io { path, source }),
            };
            looked.push(path.display().to_string());
            let sections = parse(&text, is_config);
            if let Some(section) = sections.get(&name) {
                merged
                    .get_or_insert_with(HashMap::new)
                    .extend(section.clone());
            }
        }
        match merged {
            Some(settings) => Ok((name, settings)),
            None => Err(AwsError::NotFound {
                source_name: SOURCE,
                reason: if looked.is_empty() {
                    "HOME is not set".to_owned()
                } else {
                    format!("no profile {name:?} in {}", looked.join(", "))
                },
            }),
        }
    }
}

impl ProvideCredentials for ProfileProvider {
    fn provide_credentials(&self) -> BoxFuture<'_, Result<Credentials>> {
        Box::pin(async move {
            let (name, settings) = self.settings()?;
            let get = |key: &str| settings.get(key).filter(|v| !v.is_empty());
            if let (Some(role), Some(token_file)) =
                (get("role_arn"), get("web_identity_token_file"))
            {
                let session = get("role_session_name").cloned();
                return WebIdentityProvider::with_settings(
                    self.env.clone(),
                    role.clone(),
                    PathBuf::from(token_file),
                    session,
                )
                .provide_credentials()
                .await;
            }
            if let Some(access_key) = get("aws_access_key_id") {
                let Some(secret) = get("aws_secret_access_key") else {
                    return Err(AwsError::InvalidConfig {
                        reason: format!(
                            "profile {name:?} has aws_access_key_id but no aws_secret_access_key"
                        ),
                    });
                };
                return Ok(Credentials::new(
                    access_key.clone(),
                    secret.clone(),
                    get("aws_session_token").cloned(),
                    None,
                    SOURCE,
                ));
            }
            for (key, what) in [
                ("source_profile", "role chaining (source_profile)"),
                ("credential_source", "credential_source"),
                ("credential_process", "credential_process"),
                ("sso_session", "SSO"),
                ("sso_start_url", "SSO"),
            ] {
                if get(key).is_some() {
                    return Err(AwsError::InvalidConfig {
                        reason: format!(
                            "profile {name:?} uses {what}, which this client does not support; \
                             use static keys, web identity, or the container or instance credentials"
                        ),
                    });
                }
            }
            Err(AwsError::NotFound {
                source_name: SOURCE,
                reason: format!("profile {name:?} has no aws_access_key_id"),
            })
        })
    }
}

/// Parses an AWS config or credentials file into its profiles. In the config file, profiles
/// are `[profile name]` (and `[default]`); other section kinds (`[sso-session …]`,
/// `[services …]`) are skipped. Full-line comments start with `#` or `;`; indented lines are
/// sub-settings of the line before (e.g. `s3 =`), which no credential uses.
fn parse(text: &str, is_config: bool) -> Sections {
    let mut sections = Sections::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') || trimmed.starts_with(';') {
            continue;
        }
        if let Some(header) = trimmed.strip_prefix('[') {
            let header = header.split(']').next().unwrap_or_default().trim();
            current = if is_config {
                match header.split_once(char::is_whitespace) {
                    Some(("profile", name)) => Some(name.trim().to_owned()),
                    None if header == "default" => Some(header.to_owned()),
                    _ => None,
                }
            } else {
                Some(header.to_owned())
            };
            if let Some(name) = &current {
                sections.entry(name.clone()).or_default();
            }
            continue;
        }
        if line.starts_with(char::is_whitespace) {
            continue;
        }
        let (Some(name), Some((key, value))) = (&current, trimmed.split_once('=')) else {
            continue;
        };
        let value = strip_inline_comment(value.trim());
        if let Some(section) = sections.get_mut(name) {
            section.insert(key.trim().to_ascii_lowercase(), value.to_owned());
        }
    }
    sections
}

/// Drops a trailing ` #…` or ` ;…` comment (one preceded by white space).
fn strip_inline_comment(value: &str) -> &str {
    let bytes = value.as_bytes();
    for i in 1..bytes.len() {
        if matches!(bytes[i], b'#' | b';') && bytes[i - 1].is_ascii_whitespace() {
            return value[..i].trim_end();
        }
    }
    value
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Dir(PathBuf);

    impl Dir {
        fn new(name: &str) -> Dir {
            let dir = std::env::temp_dir()
                .join(format!("laminar-aws-profile-{name}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(dir.join(".aws")).unwrap();
            Dir(dir)
        }
        fn write(&self, name: &str, text: &str) {
            std::fs::write(self.0.join(".aws").join(name), text).unwrap();
        }
        fn env(&self, extra: &[(&str, &str)]) -> Env {
            let mut vars: HashMap<String, String> = extra
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect();
            vars.insert("HOME".to_owned(), self.0.display().to_string());
            Env::from_map(vars)
        }
    }

    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn both_file_syntaxes_are_parsed() {
        let config = parse(
            "# comment\n[default]\nregion = us-east-1\n[profile dev]\naws_access_key_id = AKID ; note\n\
             s3 =\n  max_concurrent_requests = 20\n[sso-session x]\nsso_region = y\n",
            true,
        );
        assert_eq!(config["default"]["region"], "us-east-1");
        assert_eq!(config["dev"]["aws_access_key_id"], "AKID");
        assert!(!config["dev"].contains_key("max_concurrent_requests"));
        assert!(!config.contains_key("x") && !config.contains_key("sso-session x"));

        let credentials = parse("[dev]\nAWS_Secret_Access_Key=a;b#c\n", false);
        assert_eq!(credentials["dev"]["aws_secret_access_key"], "a;b#c");
    }

    #[tokio::test]
    async fn the_credentials_file_wins_over_the_config_file() {
        let dir = Dir::new("merge");
        dir.write(
            "config",
            "[profile dev]\naws_access_key_id = FROMCONFIG\naws_secret_access_key = s1\n",
        );
        dir.write(
            "credentials",
            "[default]\naws_access_key_id = DEFAULTKEY\naws_secret_access_key = s0\n\
             [dev]\naws_access_key_id = FROMCREDS\naws_session_token = tok\n",
        );
        let c = ProfileProvider::new(dir.env(&[("AWS_PROFILE", "dev")]), None)
            .provide_credentials()
            .await
            .unwrap();
        assert_eq!(c.access_key_id(), "FROMCREDS");
        assert_eq!(c.secret_access_key().expose(), "s1");
        assert_eq!(c.session_token().unwrap().expose(), "tok");

        let c = ProfileProvider::new(dir.env(&[("AWS_PROFILE", "dev")]), Some("default".into()))
            .provide_credentials()
            .await
            .unwrap();
        assert_eq!(c.access_key_id(), "DEFAULTKEY");
    }

    #[tokio::test]
    async fn missing_files_profiles_and_unsupported_kinds_are_explained() {
        let dir = Dir::new("missing");
        let err = ProfileProvider::new(dir.env(&[]), None)
            .provide_credentials()
            .await
            .unwrap_err();
        assert!(
            matches!(&err, AwsError::NotFound { reason, .. } if reason.contains("does not exist")),
            "{err}"
        );

        dir.write(
            "config",
            "[profile chained]\nrole_arn = arn:aws:iam::1:role/r\nsource_profile = default\n",
        );
        let err = ProfileProvider::new(dir.env(&[]), Some("chained".into()))
            .provide_credentials()
            .await
            .unwrap_err();
        assert!(err.to_string().contains("source_profile"), "{err}");

        let err = ProfileProvider::new(dir.env(&[]), Some("nope".into()))
            .provide_credentials()
            .await
            .unwrap_err();
        assert!(
            matches!(&err, AwsError::NotFound { reason, .. } if reason.contains("\"nope\"")),
            "{err}"
        );

        let custom = dir.0.join("elsewhere");
        std::fs::write(
            &custom,
            "[default]\naws_access_key_id = K\naws_secret_access_key = S\n",
        )
        .unwrap();
        let c = ProfileProvider::new(
            dir.env(&[("AWS_SHARED_CREDENTIALS_FILE", custom.to_str().unwrap())]),
            None,
        )
        .provide_credentials()
        .await
        .unwrap();
        assert_eq!(c.access_key_id(), "K");
    }
}
