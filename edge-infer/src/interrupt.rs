//! SIGINT and SIGTERM: the first asks the streaming loops (and `serve`) to finish their window,
//! print a summary and exit 0; a second one exits at once.

use std::sync::atomic::{AtomicBool, Ordering};

/// Raised by the first SIGINT.
static STOP: AtomicBool = AtomicBool::new(false);

/// Exit status after a second Ctrl-C (128 + SIGINT, as shells report it).
const EXIT_SECOND_INTERRUPT: i32 = 130;

/// Installs the handler; returns the flag it raises.
pub fn install() -> Result<&'static AtomicBool, ctrlc::Error> {
    ctrlc::set_handler(|| {
        if STOP.swap(true, Ordering::SeqCst) {
            // A second Ctrl-C: the user wants out now.
            std::process::exit(EXIT_SECOND_INTERRUPT);
        }
    })?;
    Ok(&STOP)
}
