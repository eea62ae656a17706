//! `edge-infer health`: one GET of a running monitor's `/healthz`, for container healthchecks
//! (a minimal image has no curl) and scripts.

use std::io::Write;
use std::sync::Arc;

use crate::config::HealthConfig;
use crate::error::Error;

/// Asks `config.url`; prints its answer and succeeds on 200.
pub fn run(config: &HealthConfig) -> Result<(), Error> {
    let unhealthy = |reason: String| Error::Unhealthy {
        url: config.url.clone(),
        reason,
    };
    let mut agent = ureq::AgentBuilder::new()
        .timeout(config.timeout)
        .redirects(0);
    if config.url.starts_with("https://") {
        let tls = crate::alerts::mqtt::tls_config(None).map_err(|e| unhealthy(e.to_string()))?;
        agent = agent.tls_config(Arc::new(tls));
    }
    match agent.build().get(&config.url).call() {
        Ok(response) if response.status() != 200 => {
            Err(unhealthy(format!("HTTP {}", response.status())))
        }
        Ok(response) => {
            let body = response.into_string().unwrap_or_default();
            writeln!(std::io::stdout().lock(), "{}", body.trim_end())?;
            Ok(())
        }
        Err(ureq::Error::Status(code, response)) => {
            let body = response.into_string().unwrap_or_default();
            Err(unhealthy(format!("HTTP {code}: {}", body.trim())))
        }
        Err(ureq::Error::Transport(t)) => {
            let text = t.to_string();
            let prefix = format!("{}: ", config.url);
            Err(unhealthy(
                text.strip_prefix(&prefix).unwrap_or(&text).to_string(),
            ))
        }
    }
}
