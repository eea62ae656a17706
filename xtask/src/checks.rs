//! What the tasks that test against real programs (`systemd-test`, `ha-test`) share: waiting
//! for a condition by polling, never a fixed sleep, and a check that is logged when it passes
//! and fails naming what was seen.

use std::time::{Duration, Instant};

use crate::error::{Failure, Result};

/// Polls `check` every 250 ms for up to `within`; whether it held.
pub fn eventually(within: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + within;
    loop {
        if check() {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// `TASK: ok: WHAT` on stderr when `ok`; otherwise a failed step saying what was expected and
/// what was seen.
pub fn expect(task: &str, what: &str, ok: bool, seen: &str) -> Result {
    if ok {
        eprintln!("{task}: ok: {what}");
        Ok(())
    } else {
        Err(Failure::Step(format!("{task}: {what}; seen: {seen}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_until_the_condition_holds_or_the_time_is_up() {
        let mut calls = 0;
        assert!(eventually(Duration::from_secs(5), || {
            calls += 1;
            calls == 3
        }));
        assert_eq!(calls, 3);
        let started = Instant::now();
        assert!(!eventually(Duration::from_millis(300), || false));
        assert!(started.elapsed() >= Duration::from_millis(300));
    }

    #[test]
    fn a_failed_check_names_the_task_what_and_what_was_seen() {
        assert!(expect("t", "x", true, "").is_ok());
        let e = expect("ha-test", "the sensor is on", false, "off").unwrap_err();
        assert_eq!(e.to_string(), "ha-test: the sensor is on; seen: off");
        assert_eq!(e.process_exit_code(), 1);
    }
}
