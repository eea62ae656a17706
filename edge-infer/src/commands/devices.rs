//! `edge-infer devices`: the audio inputs, as a table or JSON lines.

use std::io::Write;

use crate::capture;
use crate::config::DevicesConfig;
use crate::error::Error;

/// Lists the input devices of the default host; `*` marks the default.
pub fn run(config: &DevicesConfig) -> Result<(), Error> {
    let devices = capture::input_devices()?;
    let mut stdout = std::io::stdout().lock();
    if devices.is_empty() {
        log::warn!("no audio input devices found");
    }
    for d in devices {
        if config.json {
            let line = serde_json::json!({"name": d.name, "id": d.id, "default": d.default, "config": d.config});
            writeln!(stdout, "{line}")?;
        } else {
            writeln!(
                stdout,
                "{} {}  [{}]  id: {}",
                if d.default { "*" } else { " " },
                d.name,
                d.config,
                d.id
            )?;
        }
    }
    Ok(())
}
