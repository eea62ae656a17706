//! `edge-infer serve`: the HTTP API's classification of uploads, with no audio source.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use crate::clips::ClipClassifier;
use crate::config::ServeConfig;
use crate::error::Error;
use crate::http::{Classify, HttpServer, Metrics};
use crate::interrupt;
use crate::service::Notifier;

/// Serves until SIGINT or SIGTERM, then closes gracefully.
pub fn run(config: &ServeConfig) -> Result<(), Error> {
    let engine = Arc::new(config.model.load()?);
    let clips = ClipClassifier::new(&config.model, &engine)?;
    let stop = interrupt::install()?;
    let server = HttpServer::start(
        &config.http,
        None,
        None,
        Arc::new(Classify::new(engine, clips)),
        Arc::new(Metrics::new()),
    )?;
    let mut notifier = Notifier::from_env();
    notifier.ready("serving");
    while !stop.load(Ordering::SeqCst) {
        std::thread::sleep(Duration::from_millis(100));
        notifier.alive();
    }
    notifier.stopping();
    log::info!("stopping the HTTP server");
    server.stop();
    Ok(())
}
