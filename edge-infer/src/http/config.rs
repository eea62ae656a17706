//! `--http` and its options, validated: the address, the token, the limits.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use std::sync::Arc;

use subtle::ConstantTimeEq;

/// The environment variable a token may come from (the unit's `EnvironmentFile=`).
pub const TOKEN_ENV: &str = "EDGE_INFER_HTTP_TOKEN";
/// The shortest token accepted, in bytes.
pub const MIN_TOKEN_BYTES: usize = 16;
/// `--http-max-body`'s default: 20 MB.
pub const DEFAULT_MAX_BODY: usize = 20 * 1_000_000;
/// How long a classify request may take to arrive and be answered.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// A bearer token: never printed (its `Debug` says `***`), compared in constant time.
#[derive(Clone, PartialEq, Eq)]
pub struct Token(String);

impl Token {
    /// Whether `given` is this token; the time taken does not depend on where they differ.
    pub fn matches(&self, given: &[u8]) -> bool {
        bool::from(self.0.as_bytes().ct_eq(given))
    }

    /// The token itself, for a client.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(***)")
    }
}

/// The HTTP server's validated settings.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Required on every route but `/healthz` (and `/metrics` with `public_metrics`).
    pub token: Option<Token>,
    /// Largest request body, in bytes (413 above it).
    pub max_body: usize,
    /// Classify requests served at once (429 above it).
    pub max_concurrent: usize,
    /// `/metrics` without the token.
    pub public_metrics: bool,
    /// `--http-tls-cert`/`--http-tls-key`: https, with this certificate.
    pub tls: Option<Arc<rustls::ServerConfig>>,
}

/// Why the HTTP settings are refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum HttpConfigError {
    /// A non-loopback address without a token.
    #[error(
        "{0} is not a loopback address: serving it needs a token (--http-token-file FILE or \
         {TOKEN_ENV})"
    )]
    NoToken(SocketAddr),
    /// A token too short to resist guessing.
    #[error("the token has {0} bytes; at least {MIN_TOKEN_BYTES} are required")]
    ShortToken(usize),
    /// The token file cannot be read or is empty.
    #[error("--http-token-file {path}: {reason}")]
    TokenFile {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The certificate or key cannot be used.
    #[error("{path}: {reason}")]
    Tls {
        /// The file (or the pair, for a key that does not match).
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// One of the pair without the other.
    #[error("--http-tls-cert and --http-tls-key go together")]
    TlsPair,
    /// A limit of zero.
    #[error("{0} must be at least 1")]
    Zero(&'static str),
}

/// The token: from `file` (its first line) when given, else from the environment's value.
pub fn read_token(
    file: Option<&Path>,
    env: Option<String>,
) -> Result<Option<Token>, HttpConfigError> {
    let token = match file {
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|e| HttpConfigError::TokenFile {
                path: path.to_path_buf(),
                reason: e.to_string(),
            })?;
            let line = text.lines().next().unwrap_or("").trim().to_string();
            if line.is_empty() {
                return Err(HttpConfigError::TokenFile {
                    path: path.to_path_buf(),
                    reason: "its first line is empty".into(),
                });
            }
            Some(line)
        }
        None => env.map(|t| t.trim().to_string()).filter(|t| !t.is_empty()),
    };
    match token {
        Some(t) if t.len() < MIN_TOKEN_BYTES => Err(HttpConfigError::ShortToken(t.len())),
        t => Ok(t.map(Token)),
    }
}

/// The TLS settings from a PEM certificate chain and its private key (rustls with ring).
pub fn load_tls(cert: &Path, key: &Path) -> Result<Arc<rustls::ServerConfig>, HttpConfigError> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let bad = |path: &Path, reason: String| HttpConfigError::Tls {
        path: path.to_path_buf(),
        reason,
    };
    let chain = CertificateDer::pem_file_iter(cert)
        .map_err(|e| bad(cert, e.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad(cert, e.to_string()))?;
    if chain.is_empty() {
        return Err(bad(cert, "no PEM certificate in it".into()));
    }
    let private = PrivateKeyDer::from_pem_file(key).map_err(|e| bad(key, e.to_string()))?;
    // ring, as for MQTT: a smaller C build, also for the Pi.
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| bad(cert, e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(chain, private)
        .map_err(|e| bad(key, format!("does not go with the certificate: {e}")))?;
    Ok(Arc::new(config))
}

/// The default number of classify requests at once: the cores, less one while a live source
/// runs, so the monitor never starves.
pub fn default_concurrency(cores: usize, live_source: bool) -> usize {
    if live_source {
        cores.saturating_sub(1).max(1)
    } else {
        cores.max(1)
    }
}

/// Validates the settings: a non-loopback address needs a token.
pub fn http_config(
    addr: SocketAddr,
    token: Option<Token>,
    max_body: usize,
    max_concurrent: usize,
    public_metrics: bool,
) -> Result<HttpConfig, HttpConfigError> {
    if !addr.ip().is_loopback() && token.is_none() {
        return Err(HttpConfigError::NoToken(addr));
    }
    if max_body == 0 {
        return Err(HttpConfigError::Zero("--http-max-body"));
    }
    if max_concurrent == 0 {
        return Err(HttpConfigError::Zero("--http-max-concurrent"));
    }
    Ok(HttpConfig {
        addr,
        token,
        max_body,
        max_concurrent,
        public_metrics,
        tls: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "0123456789abcdef-token";

    #[test]
    fn tokens_come_from_the_file_first_and_short_ones_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("token");
        std::fs::write(&file, format!("{GOOD}\nignored\n")).unwrap();
        let t = read_token(Some(&file), Some("other-token-from-env".into()))
            .unwrap()
            .unwrap();
        assert_eq!(t.expose(), GOOD);
        assert_eq!(format!("{t:?}"), "Token(***)");
        let env = read_token(None, Some(format!(" {GOOD}\n")))
            .unwrap()
            .unwrap();
        assert_eq!(env.expose(), GOOD);
        assert_eq!(read_token(None, Some(String::new())).unwrap(), None);
        assert_eq!(read_token(None, None).unwrap(), None);
        assert_eq!(
            read_token(None, Some("short".into())).unwrap_err(),
            HttpConfigError::ShortToken(5)
        );
        std::fs::write(&file, "\n").unwrap();
        assert!(matches!(
            read_token(Some(&file), None).unwrap_err(),
            HttpConfigError::TokenFile { .. }
        ));
        let missing = dir.path().join("nope");
        let err = read_token(Some(&missing), None).unwrap_err().to_string();
        assert!(err.contains("nope"), "{err}");
    }

    #[test]
    fn tokens_match_exactly() {
        let t = Token(GOOD.into());
        assert!(t.matches(GOOD.as_bytes()));
        assert!(!t.matches(b"0123456789abcdef-tokeN"));
        assert!(!t.matches(b"0123456789abcdef"));
        assert!(!t.matches(b""));
    }

    #[test]
    fn a_public_address_needs_a_token() {
        let public: SocketAddr = "0.0.0.0:8080".parse().unwrap();
        let local: SocketAddr = "127.0.0.1:8080".parse().unwrap();
        let v6: SocketAddr = "[::1]:8080".parse().unwrap();
        assert_eq!(
            http_config(public, None, 10, 1, false).unwrap_err(),
            HttpConfigError::NoToken(public)
        );
        assert!(http_config(public, Some(Token(GOOD.into())), 10, 1, false).is_ok());
        assert!(http_config(local, None, 10, 1, false).is_ok());
        assert!(http_config(v6, None, 10, 1, false).is_ok());
        assert_eq!(
            http_config(local, None, 10, 0, false).unwrap_err(),
            HttpConfigError::Zero("--http-max-concurrent")
        );
    }

    #[test]
    fn a_live_source_keeps_a_core() {
        assert_eq!(default_concurrency(4, true), 3);
        assert_eq!(default_concurrency(4, false), 4);
        assert_eq!(default_concurrency(1, true), 1);
    }
}
