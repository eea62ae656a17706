//! Where alerts go: `mqtt://[user@]host[:port]/PREFIX` (`mqtts://` for TLS), and the password,
//! which comes from a file or the environment, never from the command line (`ps` shows it).

use std::fmt;
use std::path::{Path, PathBuf};

/// The environment variable a password may come from.
pub const PASSWORD_ENV: &str = "EDGE_INFER_MQTT_PASSWORD";

/// The default MQTT port.
pub const MQTT_PORT: u16 = 1883;
/// The default MQTT-over-TLS port.
pub const MQTTS_PORT: u16 = 8883;

/// A broker and the topic prefix under which this monitor publishes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MqttTarget {
    /// `mqtts://`: TLS (rustls; the system's roots or `--mqtt-ca`).
    pub tls: bool,
    /// User name, when the broker wants one.
    pub user: Option<String>,
    /// Host name or address.
    pub host: String,
    /// Port.
    pub port: u16,
    /// Topic prefix, e.g. `nursery/cry` (no leading or trailing `/`).
    pub prefix: String,
}

/// Why an MQTT URL or password cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    /// Not `mqtt://` or `mqtts://`.
    #[error("`{0}`: the address must start with mqtt:// or mqtts://")]
    Scheme(String),
    /// `user:password@` in the URL.
    #[error(
        "`{0}`: a password in the address would show in `ps` and in logs; put it in a file \
         (--mqtt-password-file) or in the environment variable {PASSWORD_ENV}"
    )]
    PasswordInUrl(String),
    /// No host.
    #[error("`{0}`: no broker host")]
    NoHost(String),
    /// A port that is not 1-65535.
    #[error("`{url}`: port `{port}` is not a number from 1 to 65535")]
    Port {
        /// The URL (without any password).
        url: String,
        /// The port as written.
        port: String,
    },
    /// No topic prefix.
    #[error("`{0}`: no topic prefix; write one after the host, e.g. mqtt://broker/nursery/cry")]
    NoPrefix(String),
    /// A prefix with wildcards or empty levels.
    #[error("`{0}`: the topic prefix must not contain `+`, `#` or empty levels")]
    Prefix(String),
    /// The password file cannot be read.
    #[error("cannot read the MQTT password file {path}: {reason}")]
    PasswordFile {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// A password without a user.
    #[error("a password was given ({0}) but the address names no user: mqtt://USER@host/...")]
    PasswordWithoutUser(&'static str),
}

impl MqttTarget {
    /// Parses `mqtt://[user@]host[:port]/PREFIX` or `mqtts://...`.
    pub fn parse(url: &str) -> Result<Self, TargetError> {
        let (tls, rest) = if let Some(rest) = url.strip_prefix("mqtts://") {
            (true, rest)
        } else if let Some(rest) = url.strip_prefix("mqtt://") {
            (false, rest)
        } else {
            return Err(TargetError::Scheme(redact(url)));
        };
        let (authority, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        let (user, hostport) = match authority.rsplit_once('@') {
            Some((userinfo, hostport)) => {
                if userinfo.contains(':') {
                    return Err(TargetError::PasswordInUrl(redact(url)));
                }
                (Some(userinfo.to_string()), hostport)
            }
            None => (None, authority),
        };
        let (host, port) = split_host_port(hostport);
        if host.is_empty() {
            return Err(TargetError::NoHost(url.to_string()));
        }
        let port = match port {
            None => {
                if tls {
                    MQTTS_PORT
                } else {
                    MQTT_PORT
                }
            }
            Some(p) => match p.parse::<u16>() {
                Ok(n) if n > 0 => n,
                _ => {
                    return Err(TargetError::Port {
                        url: url.to_string(),
                        port: p.to_string(),
                    });
                }
            },
        };
        let prefix = prefix.trim_end_matches('/');
        if prefix.is_empty() {
            return Err(TargetError::NoPrefix(url.to_string()));
        }
        if prefix.contains(['+', '#']) || prefix.split('/').any(str::is_empty) {
            return Err(TargetError::Prefix(url.to_string()));
        }
        Ok(Self {
            tls,
            user: user.filter(|u| !u.is_empty()),
            host: host.to_string(),
            port,
            prefix: prefix.to_string(),
        })
    }
}

impl fmt::Display for MqttTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = if self.tls { "mqtts" } else { "mqtt" };
        let user = self
            .user
            .as_ref()
            .map_or(String::new(), |u| format!("{u}@"));
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        write!(f, "{scheme}://{user}{host}:{}/{}", self.port, self.prefix)
    }
}

/// `host`, `host:port`, `[v6]` or `[v6]:port`.
fn split_host_port(s: &str) -> (&str, Option<&str>) {
    if let Some(rest) = s.strip_prefix('[') {
        return match rest.split_once(']') {
            Some((host, tail)) => (host, tail.strip_prefix(':')),
            None => ("", None),
        };
    }
    match s.rsplit_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (s, None),
    }
}

/// The URL with anything between `://` and `@` replaced, for messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => format!("{}://***{}", &url[..s], &url[at..]),
        _ => url.to_string(),
    }
}

/// A password: never printed (its `Debug` says `***`).
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// The password itself, for the broker only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// The password: from `file` (its first line) when given, else from [`PASSWORD_ENV`] when set.
/// A password needs a user in the target.
pub fn read_password(
    target: &MqttTarget,
    file: Option<&Path>,
    env: Option<String>,
) -> Result<Option<Secret>, TargetError> {
    let (password, from) = match file {
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|e| TargetError::PasswordFile {
                path: path.to_path_buf(),
                reason: e.to_string(),
            })?;
            let line = text.lines().next().unwrap_or("").to_string();
            if line.is_empty() {
                return Err(TargetError::PasswordFile {
                    path: path.to_path_buf(),
                    reason: "its first line is empty".into(),
                });
            }
            (Some(line), "--mqtt-password-file")
        }
        None => (env.filter(|p| !p.is_empty()), PASSWORD_ENV),
    };
    match password {
        Some(_) if target.user.is_none() => Err(TargetError::PasswordWithoutUser(from)),
        p => Ok(p.map(Secret)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_parse_with_defaults_and_user() {
        let t = MqttTarget::parse("mqtt://broker.local/nursery/cry").unwrap();
        assert_eq!(
            t,
            MqttTarget {
                tls: false,
                user: None,
                host: "broker.local".into(),
                port: 1883,
                prefix: "nursery/cry".into()
            }
        );
        let t = MqttTarget::parse("mqtts://monitor@10.0.0.2:8884/baby/").unwrap();
        assert!(t.tls);
        assert_eq!(t.user.as_deref(), Some("monitor"));
        assert_eq!((t.host.as_str(), t.port), ("10.0.0.2", 8884));
        assert_eq!(t.prefix, "baby");
        assert_eq!(MqttTarget::parse("mqtts://h/p").unwrap().port, 8883);
        let v6 = MqttTarget::parse("mqtt://[::1]:1999/p").unwrap();
        assert_eq!((v6.host.as_str(), v6.port), ("::1", 1999));
        assert_eq!(v6.to_string(), "mqtt://[::1]:1999/p");
    }

    #[test]
    fn bad_addresses_are_refused_and_a_password_never_echoed() {
        let err = MqttTarget::parse("mqtt://me:hunter2@host/p").unwrap_err();
        assert!(matches!(err, TargetError::PasswordInUrl(_)));
        assert!(!err.to_string().contains("hunter2"), "{err}");
        assert!(matches!(
            MqttTarget::parse("http://host/p"),
            Err(TargetError::Scheme(_))
        ));
        assert!(matches!(
            MqttTarget::parse("mqtt://host"),
            Err(TargetError::NoPrefix(_))
        ));
        assert!(matches!(
            MqttTarget::parse("mqtt://host:0/p"),
            Err(TargetError::Port { .. })
        ));
        assert!(matches!(
            MqttTarget::parse("mqtt://host:x/p"),
            Err(TargetError::Port { .. })
        ));
        assert!(matches!(
            MqttTarget::parse("mqtt://host/a/#"),
            Err(TargetError::Prefix(_))
        ));
        assert!(matches!(
            MqttTarget::parse("mqtt://host/a//b"),
            Err(TargetError::Prefix(_))
        ));
        assert!(matches!(
            MqttTarget::parse("mqtt:///p"),
            Err(TargetError::NoHost(_))
        ));
    }

    #[test]
    fn the_password_comes_from_a_file_or_the_environment_and_needs_a_user() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("pw");
        std::fs::write(&file, "s3cret\n").unwrap();
        let with_user = MqttTarget::parse("mqtt://u@h/p").unwrap();
        let p = read_password(&with_user, Some(&file), Some("env".into())).unwrap();
        assert_eq!(
            p.as_ref().map(Secret::expose),
            Some("s3cret"),
            "the file wins"
        );
        assert_eq!(format!("{p:?}"), "Some(Secret(***))");
        let p = read_password(&with_user, None, Some("env".into())).unwrap();
        assert_eq!(p.as_ref().map(Secret::expose), Some("env"));
        assert_eq!(read_password(&with_user, None, None).unwrap(), None);
        let no_user = MqttTarget::parse("mqtt://h/p").unwrap();
        assert!(matches!(
            read_password(&no_user, None, Some("env".into())),
            Err(TargetError::PasswordWithoutUser(PASSWORD_ENV))
        ));
        let missing = dir.path().join("absent");
        let err = read_password(&with_user, Some(&missing), None).unwrap_err();
        assert!(err.to_string().contains("absent"), "{err}");
    }
}
