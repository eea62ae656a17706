//! Getting a lost device back: reopen with exponential backoff until it works or the user
//! interrupts.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::{Capture, open};

/// The first wait before reopening.
const FIRST_WAIT: Duration = Duration::from_millis(500);
/// The longest wait between attempts.
const MAX_WAIT: Duration = Duration::from_secs(30);
/// How often the stop flag is checked while waiting.
const POLL: Duration = Duration::from_millis(50);

/// Reopens `device` (the default input when `None`) with a ring of `ring_seconds`, waiting
/// 0.5 s, then twice as long after each failure up to 30 s. `None` when `stop` is raised first.
pub fn reopen(device: Option<&str>, ring_seconds: f32, stop: &AtomicBool) -> Option<Capture> {
    let mut wait = FIRST_WAIT;
    loop {
        let deadline = Instant::now() + wait;
        while Instant::now() < deadline {
            if stop.load(Ordering::Relaxed) {
                return None;
            }
            std::thread::sleep(POLL);
        }
        let next = (wait * 2).min(MAX_WAIT);
        match open(device, ring_seconds) {
            Ok(capture) => return Some(capture),
            Err(e) => log::warn!("{e}; retrying in {:.1} s", next.as_secs_f32()),
        }
        wait = next;
    }
}
