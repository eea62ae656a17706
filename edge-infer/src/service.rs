//! Running as a systemd service (`Type=notify`): the readiness, watchdog and stopping
//! notifications of `sd_notify(3)`, sent as datagrams to `$NOTIFY_SOCKET` (a path, or `@name`
//! in the abstract namespace), without linking libsystemd. Outside systemd (no
//! `$NOTIFY_SOCKET`) every call does nothing.
//!
//! The watchdog is fed from the inference loop (one ping per window at most every half
//! `$WATCHDOG_USEC`), so a stalled pipeline, not just a live process, is what systemd sees.

use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::time::{Duration, Instant};

use crate::output::EventSink;
use crate::stream::decision::Event;

/// A connection to systemd's notification socket, if the service has one.
#[derive(Debug)]
pub struct Notifier {
    socket: Option<(UnixDatagram, SocketAddr)>,
    watchdog: Option<Duration>,
    last_ping: Option<Instant>,
}

impl Notifier {
    /// From the environment systemd gives a `Type=notify` service: `NOTIFY_SOCKET`, and
    /// `WATCHDOG_USEC` (for this process when `WATCHDOG_PID` says so).
    pub fn from_env() -> Self {
        let socket = std::env::var("NOTIFY_SOCKET").ok();
        let for_us = std::env::var("WATCHDOG_PID")
            .ok()
            .and_then(|p| p.parse::<u32>().ok())
            .is_none_or(|pid| pid == std::process::id());
        let watchdog = std::env::var("WATCHDOG_USEC")
            .ok()
            .and_then(|u| u.parse::<u64>().ok())
            .filter(|&u| u > 0 && for_us)
            .map(Duration::from_micros);
        Self::new(socket.as_deref(), watchdog)
    }

    /// To the socket `path` (`@name`: abstract), with a watchdog interval.
    pub fn new(path: Option<&str>, watchdog: Option<Duration>) -> Self {
        let socket = path.and_then(|p| match connect(p) {
            Ok(s) => Some(s),
            Err(e) => {
                log::warn!("systemd notification socket {p}: {e}; not notifying");
                None
            }
        });
        Self {
            watchdog: watchdog.filter(|_| socket.is_some()),
            socket,
            last_ping: None,
        }
    }

    fn send(&self, message: &str) {
        if let Some((socket, addr)) = &self.socket {
            if let Err(e) = socket.send_to_addr(message.as_bytes(), addr) {
                log::warn!("cannot notify systemd: {e}");
            }
        }
    }

    /// The service is up (the model loaded, the input open).
    pub fn ready(&mut self, status: &str) {
        self.send(&format!("READY=1\nSTATUS={status}\n"));
        self.last_ping = Some(Instant::now());
    }

    /// The pipeline made progress: pings the watchdog when half its interval has passed.
    pub fn alive(&mut self) {
        let Some(interval) = self.watchdog else {
            return;
        };
        if self.last_ping.is_none_or(|t| t.elapsed() >= interval / 2) {
            self.send("WATCHDOG=1\n");
            self.last_ping = Some(Instant::now());
        }
    }

    /// The service is shutting down.
    pub fn stopping(&mut self) {
        self.send("STOPPING=1\n");
    }
}

fn connect(path: &str) -> std::io::Result<(UnixDatagram, SocketAddr)> {
    let addr = match path.strip_prefix('@') {
        Some(name) => {
            use std::os::linux::net::SocketAddrExt;
            SocketAddr::from_abstract_name(name.as_bytes())?
        }
        None => SocketAddr::from_pathname(path)?,
    };
    Ok((UnixDatagram::unbound()?, addr))
}

/// An [`EventSink`] that feeds the watchdog on every window it passes on.
pub struct Watched<'a, S> {
    /// The sink events go to.
    pub inner: S,
    /// The notifier.
    pub notifier: &'a mut Notifier,
}

impl<S: EventSink> EventSink for Watched<'_, S> {
    fn write(&mut self, event: &Event) -> std::io::Result<()> {
        if matches!(event, Event::Window(_)) {
            self.notifier.alive();
        }
        self.inner.write(event)
    }

    fn end_of_batch(&mut self) -> std::io::Result<()> {
        self.inner.end_of_batch()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn received(socket: &UnixDatagram) -> Vec<String> {
        socket.set_nonblocking(true).unwrap();
        let mut out = Vec::new();
        let mut buf = [0u8; 256];
        while let Ok(n) = socket.recv(&mut buf) {
            out.push(String::from_utf8_lossy(&buf[..n]).to_string());
        }
        out
    }

    #[test]
    fn readiness_watchdog_and_stopping_reach_the_socket() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify");
        let listener = UnixDatagram::bind(&path).unwrap();
        let mut n = Notifier::new(path.to_str(), Some(Duration::from_millis(40)));
        n.ready("listening");
        n.alive(); // too soon after READY: no ping
        std::thread::sleep(Duration::from_millis(25));
        n.alive();
        n.alive(); // too soon again
        n.stopping();
        assert_eq!(
            received(&listener),
            [
                "READY=1\nSTATUS=listening\n",
                "WATCHDOG=1\n",
                "STOPPING=1\n"
            ]
        );
    }

    #[test]
    fn without_a_socket_or_a_watchdog_nothing_is_sent() {
        let mut quiet = Notifier::new(None, Some(Duration::from_millis(1)));
        quiet.ready("x");
        quiet.alive();
        assert!(quiet.socket.is_none() && quiet.watchdog.is_none());
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify");
        let listener = UnixDatagram::bind(&path).unwrap();
        let mut no_dog = Notifier::new(path.to_str(), None);
        no_dog.alive();
        assert!(received(&listener).is_empty());
    }
}
