//! `--http` and its options: the live page and the API (`stream`, `listen`, `serve`).

use std::path::PathBuf;

use clap::Args;

use crate::error::UsageError;

/// The HTTP API.
#[derive(Debug, Args)]
pub struct HttpArgs {
    /// Serve the HTTP API on this address (`127.0.0.1:8080`). Any address but loopback needs a
    /// token.
    #[arg(long, value_name = "IP:PORT")]
    pub http: Option<std::net::SocketAddr>,
    /// File whose first line is the token every route but /healthz requires (`Authorization:
    /// Bearer TOKEN`); at least 16 bytes. Or the environment variable EDGE_INFER_HTTP_TOKEN;
    /// never on the command line.
    #[arg(long, value_name = "FILE")]
    pub http_token_file: Option<PathBuf>,
    /// Largest request body in bytes (413 above it).
    #[arg(long, value_name = "BYTES", default_value_t = crate::http::config::DEFAULT_MAX_BODY)]
    pub http_max_body: usize,
    /// Classify requests served at once (429 above it). Default: the cores, less one while a
    /// live source runs.
    #[arg(long, value_name = "N")]
    pub http_max_concurrent: Option<usize>,
    /// Serve /metrics without the token.
    #[arg(long)]
    pub http_public_metrics: bool,
    /// Serve https with this PEM certificate chain (with --http-tls-key): phones allow the
    /// page's notifications only over https off localhost.
    #[arg(long, value_name = "FILE")]
    pub http_tls_cert: Option<PathBuf>,
    /// The certificate's PEM private key.
    #[arg(long, value_name = "FILE")]
    pub http_tls_key: Option<PathBuf>,
}

impl HttpArgs {
    pub(super) fn into_config(
        self,
        live_source: bool,
    ) -> Result<Option<crate::http::HttpConfig>, UsageError> {
        let Some(addr) = self.http else {
            if self.http_token_file.is_some()
                || self.http_public_metrics
                || self.http_tls_cert.is_some()
                || self.http_tls_key.is_some()
            {
                return Err(UsageError(
                    "--http-token-file, --http-public-metrics and --http-tls-* go with --http"
                        .into(),
                ));
            }
            return Ok(None);
        };
        let http = |e: crate::http::HttpConfigError| UsageError(format!("--http: {e}"));
        let token = crate::http::config::read_token(
            self.http_token_file.as_deref(),
            std::env::var(crate::http::TOKEN_ENV).ok(),
        )
        .map_err(http)?;
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        let concurrent = self
            .http_max_concurrent
            .unwrap_or_else(|| crate::http::config::default_concurrency(cores, live_source));
        let mut config = crate::http::config::http_config(
            addr,
            token,
            self.http_max_body,
            concurrent,
            self.http_public_metrics,
        )
        .map_err(http)?;
        config.tls = match (&self.http_tls_cert, &self.http_tls_key) {
            (Some(cert), Some(key)) => {
                Some(crate::http::config::load_tls(cert, key).map_err(http)?)
            }
            (None, None) => None,
            _ => return Err(http(crate::http::HttpConfigError::TlsPair)),
        };
        Ok(Some(config))
    }
}
