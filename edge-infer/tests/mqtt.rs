//! MQTT alerts against a real broker: Debian's `mosquitto`, started by each test on a free
//! loopback port with a generated config (installed by `cargo xtask test`). Everything stays on
//! 127.0.0.1 and every wait is bounded.

mod common;
use common::*;

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

use rumqttc::{Client, Event, MqttOptions, Packet, QoS};
use serde_json::Value;

const MOSQUITTO: &str = "/usr/sbin/mosquitto";

/// A mosquitto process on a loopback port, killed when dropped.
struct Broker {
    child: Option<Child>,
    port: u16,
    config: PathBuf,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Broker {
    /// Starts mosquitto in `dir` with `listener PORT 127.0.0.1` and then `extra` config lines.
    /// `user root` keeps the test's user: started as root, mosquitto would otherwise switch to
    /// the `mosquitto` user, which cannot write its database into a root-owned temporary
    /// directory (as another user the option is ignored).
    fn start(dir: &Path, extra: &str) -> Self {
        assert!(
            Path::new(MOSQUITTO).is_file(),
            "{MOSQUITTO} is missing: install Debian's mosquitto (`cargo xtask test` does)"
        );
        let port = free_port();
        let config = dir.join(format!("mosquitto-{port}.conf"));
        std::fs::write(
            &config,
            format!(
                "listener {port} 127.0.0.1\nuser root\n{extra}\nlog_dest file {}\n",
                dir.join(format!("mosquitto-{port}.log")).display()
            ),
        )
        .unwrap();
        let mut broker = Self {
            child: None,
            port,
            config,
        };
        broker.restart();
        broker
    }

    fn restart(&mut self) {
        let child = Command::new(MOSQUITTO)
            .arg("-c")
            .arg(&self.config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("mosquitto starts");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "mosquitto did not listen on {}",
                self.port
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Kills it with SIGKILL, as a power cut or the OOM killer would: no goodbye to its
    /// clients and no save on the way out, so only what it had saved on disk survives.
    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().expect("SIGKILL the broker");
            let _ = child.wait();
        }
    }

    fn url(&self, prefix: &str) -> String {
        format!("mqtt://127.0.0.1:{}/{prefix}", self.port)
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// One received message.
#[derive(Debug, Clone)]
struct Message {
    topic: String,
    payload: String,
    retained: bool,
}

/// A subscriber that keeps its session (client id `id`, QoS 1), so a broker with persistence
/// queues what it missed while the broker restarted.
struct Subscriber {
    rx: Receiver<Message>,
    seen: Vec<Message>,
}

impl Subscriber {
    fn new(port: u16, id: &str, topics: &[&str]) -> Self {
        let mut options = MqttOptions::new(id, "127.0.0.1", port);
        options.set_clean_session(false);
        options.set_keep_alive(Duration::from_secs(5));
        let (client, mut connection) = Client::new(options, 16);
        let topics: Vec<String> = topics.iter().map(ToString::to_string).collect();
        let (tx, rx) = mpsc::channel();
        let (ready_tx, ready_rx) = mpsc::channel();
        std::thread::spawn(move || {
            for event in connection.iter() {
                match event {
                    Ok(Event::Incoming(Packet::ConnAck(_))) => {
                        for t in &topics {
                            client.subscribe(t.clone(), QoS::AtLeastOnce).unwrap();
                        }
                    }
                    Ok(Event::Incoming(Packet::SubAck(_))) => {
                        let _ = ready_tx.send(());
                    }
                    Ok(Event::Incoming(Packet::Publish(p))) => {
                        let message = Message {
                            topic: p.topic.clone(),
                            payload: String::from_utf8_lossy(&p.payload).to_string(),
                            retained: p.retain,
                        };
                        if tx.send(message).is_err() {
                            return;
                        }
                    }
                    Ok(_) => {}
                    Err(_) => std::thread::sleep(Duration::from_millis(100)),
                }
            }
        });
        ready_rx
            .recv_timeout(Duration::from_secs(10))
            .expect("the subscriber subscribed");
        Self {
            rx,
            seen: Vec::new(),
        }
    }

    /// Waits (at most `timeout`) for a message on `topic` whose payload satisfies `pred`;
    /// everything received on the way is kept in `seen`.
    fn wait_for(
        &mut self,
        topic: &str,
        timeout: Duration,
        pred: impl Fn(&str) -> bool,
    ) -> Option<Message> {
        let deadline = Instant::now() + timeout;
        if let Some(m) = self
            .seen
            .iter()
            .find(|m| m.topic == topic && pred(&m.payload))
        {
            return Some(m.clone());
        }
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match self.rx.recv_timeout(left) {
                Ok(m) => {
                    self.seen.push(m.clone());
                    if m.topic == topic && pred(&m.payload) {
                        return Some(m);
                    }
                }
                Err(_) => return None,
            }
        }
        None
    }

    /// Everything received so far (waiting `settle` for stragglers) on `topic`, in order.
    fn on(&mut self, topic: &str, settle: Duration) -> Vec<Message> {
        let deadline = Instant::now() + settle;
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match self.rx.recv_timeout(left) {
                Ok(m) => self.seen.push(m),
                Err(_) => break,
            }
        }
        self.seen
            .iter()
            .filter(|m| m.topic == topic)
            .cloned()
            .collect()
    }
}

/// `seconds` of a loud harmonic tone (what the two-head fixture calls a cry at a tiny
/// threshold), then `quiet` seconds of silence (gated, so calm follows).
fn cycle(seconds: usize, quiet: usize) -> Vec<f32> {
    let mut audio: Vec<f32> = (0..seconds * 16_000)
        .map(|i| {
            let t = i as f32 / 16_000.0;
            (1..=4)
                .map(|k| 0.2 * (2.0 * std::f32::consts::PI * 440.0 * k as f32 * t).sin() / k as f32)
                .sum::<f32>()
        })
        .collect();
    audio.extend(vec![0.0; quiet * 16_000]);
    audio
}

fn cycles_file(dir: &Path, n: usize) -> PathBuf {
    let mut audio = vec![0.0f32; 3 * 16_000];
    for _ in 0..n {
        audio.extend(cycle(8, 6));
    }
    let path = dir.join(format!("cycles-{n}.wav"));
    write_wav(&path, &audio, 16_000);
    path
}

fn two_head() -> PathBuf {
    tiny_model("two-head-fp32")
}

/// `stream` of `input` with the two-head fixture at a threshold every loud window reaches.
fn stream_args<'a>(input: &'a str, model: &'a str, mqtt: &'a str) -> Vec<&'a str> {
    vec![
        "stream",
        "--input",
        input,
        "--model",
        model,
        "--cry-threshold",
        "0.000001",
        "--mqtt",
        mqtt,
        "--mqtt-health-seconds",
        "1",
    ]
}

fn json(payload: &str) -> Value {
    serde_json::from_str(payload).unwrap_or_else(|e| panic!("{e}: {payload}"))
}

#[test]
fn a_streamed_cry_sets_state_on_then_off_with_events_in_order_and_discovery_to_match() {
    let dir = tempfile::tempdir().unwrap();
    let broker = Broker::start(dir.path(), "allow_anonymous true");
    let mut sub = Subscriber::new(broker.port, "sub-a", &["nursery/#", "homeassistant/#"]);
    let file = cycles_file(dir.path(), 2);
    let model = two_head();
    let url = broker.url("nursery");
    let mut args = stream_args(file.to_str().unwrap(), model.to_str().unwrap(), &url);
    args.push("--ha-discovery");
    let out = succeeded(edge(&args));
    let lines = json_lines(&out);
    let printed: Vec<&str> = lines
        .iter()
        .filter_map(|l| l["type"].as_str())
        .filter(|t| *t == "cry" || *t == "calm")
        .collect();
    assert_eq!(printed, ["cry", "calm", "cry", "calm"]);

    let settle = Duration::from_secs(2);
    let states: Vec<String> = sub
        .on("nursery/state", settle)
        .into_iter()
        .map(|m| m.payload)
        .collect();
    // Every transition, in order (the first OFF only when the monitor connected before the
    // first cry was queued).
    let mut changes = states.clone();
    changes.dedup();
    if changes.first().map(String::as_str) == Some("OFF") {
        changes.remove(0);
    }
    assert_eq!(changes, ["ON", "OFF", "ON", "OFF"], "{states:?}");
    let events: Vec<Value> = sub
        .on("nursery/event", Duration::ZERO)
        .iter()
        .map(|m| {
            assert!(!m.retained, "events are not retained");
            json(&m.payload)
        })
        .collect();
    let kinds: Vec<(&str, u64)> = events
        .iter()
        .map(|e| {
            (
                e["event_type"].as_str().unwrap(),
                e["seq"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        kinds,
        [
            ("cry_started", 0),
            ("calm", 1),
            ("cry_started", 2),
            ("calm", 3)
        ]
    );
    assert_eq!(
        events[0]["t"],
        lines.iter().find(|l| l["type"] == "cry").unwrap()["t"]
    );
    let reason = sub.on("nursery/reason", Duration::ZERO);
    let last = json(&reason.last().expect("a reason").payload);
    assert!(
        last["reason"].is_string() && last["confidence"].is_number(),
        "{last}"
    );
    let status: Vec<String> = sub
        .on("nursery/status", Duration::ZERO)
        .into_iter()
        .map(|m| m.payload)
        .collect();
    assert_eq!(status.first().map(String::as_str), Some("online"));
    assert_eq!(
        status.last().map(String::as_str),
        Some("offline"),
        "a clean stop says so"
    );
    let health = sub.on("nursery/health", Duration::ZERO);
    let health = json(&health.last().expect("health").payload);
    assert!(health["windows"].as_u64().unwrap() > 0, "{health}");
    assert_eq!(health["events"]["overflowed"], 0);

    // Discovery: one device, three entities, ids Home Assistant accepts, bound to status.
    let configs: Vec<Message> = sub
        .seen
        .iter()
        .filter(|m| m.topic.starts_with("homeassistant/") && m.topic.ends_with("/config"))
        .cloned()
        .collect();
    let mut topics: Vec<&str> = configs.iter().map(|m| m.topic.as_str()).collect();
    topics.sort_unstable();
    topics.dedup();
    assert_eq!(
        topics,
        [
            "homeassistant/binary_sensor/nursery/crying/config",
            "homeassistant/event/nursery/cry_event/config",
            "homeassistant/sensor/nursery/cry_reason/config",
        ]
    );
    for m in &configs {
        assert!(m.retained || !m.payload.is_empty());
        let v = json(&m.payload);
        assert_eq!(v["availability_topic"], "nursery/status");
        assert_eq!(v["device"]["identifiers"][0], "nursery");
        let id = v["unique_id"].as_str().unwrap();
        assert!(
            id.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        );
    }

    // --ha-remove empties the retained configs.
    let url = broker.url("nursery");
    succeeded(edge(&[
        "stream",
        "--input",
        file.to_str().unwrap(),
        "--model",
        model.to_str().unwrap(),
        "--mqtt",
        &url,
        "--ha-remove",
    ]));
    for topic in topics {
        let emptied = sub.wait_for(topic, Duration::from_secs(5), str::is_empty);
        assert!(emptied.is_some(), "{topic} not emptied");
    }
}

/// A running `stream --input -` fed by the test, its stdout lines read on a thread.
struct Streamer {
    child: Child,
    stdin: Option<std::process::ChildStdin>,
    lines: Receiver<String>,
    stderr: std::thread::JoinHandle<String>,
}

impl Streamer {
    fn start(args: &[&str]) -> Self {
        let mut child = spawn_edge(args);
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        // Drained as it comes, so a chatty log never blocks the process on a full pipe.
        let mut err = child.stderr.take().unwrap();
        let stderr = std::thread::spawn(move || {
            let mut text = String::new();
            use std::io::Read;
            let _ = err.read_to_string(&mut text);
            text
        });
        Self {
            stdin: child.stdin.take(),
            child,
            lines,
            stderr,
        }
    }

    fn feed(&mut self, audio: &[f32]) {
        let bytes: Vec<u8> = audio.iter().flat_map(|s| s.to_le_bytes()).collect();
        self.stdin.as_mut().unwrap().write_all(&bytes).unwrap();
        self.stdin.as_mut().unwrap().flush().unwrap();
    }

    /// Waits for the next printed event of `kind` (`cry`, `calm`), returning its line.
    fn wait_event(&self, kind: &str, timeout: Duration) -> Value {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline
                .checked_duration_since(Instant::now())
                .unwrap_or_else(|| panic!("no `{kind}` line within {timeout:?}"));
            let line = self
                .lines
                .recv_timeout(left)
                .expect("edge-infer is running");
            let v: Value = serde_json::from_str(&line).unwrap();
            if v["type"] == kind {
                return v;
            }
        }
    }

    fn finish(mut self) -> (std::process::ExitStatus, String) {
        drop(self.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return (status, self.stderr.join().unwrap());
            }
            assert!(Instant::now() < deadline, "edge-infer did not end");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

fn stdin_args<'a>(model: &'a str, url: &'a str) -> Vec<&'a str> {
    let mut args = stream_args("-", model, url);
    args.extend(["--format", "f32le", "--rate", "16000"]);
    args
}

#[test]
fn events_raised_while_the_broker_is_killed_arrive_in_order_once_it_is_back() {
    let dir = tempfile::tempdir().unwrap();
    let persist = dir.path().join("persist");
    std::fs::create_dir_all(&persist).unwrap();
    // The broker a careful user runs: it saves its database after every change (a subscription,
    // a retained or queued message), so the subscriber's session survives a SIGKILL whichever
    // client reconnects first.
    let mut broker = Broker::start(
        dir.path(),
        &format!(
            "allow_anonymous true\npersistence true\npersistence_location {}/\n\
             autosave_on_changes true\nautosave_interval 1",
            persist.display()
        ),
    );
    let mut sub = Subscriber::new(broker.port, "sub-b", &["home/cry/event", "home/cry/state"]);
    let model = two_head();
    let url = broker.url("home/cry");
    let mut edge = Streamer::start(&stdin_args(model.to_str().unwrap(), &url));
    let long = Duration::from_secs(60);
    edge.feed(&vec![0.0; 3 * 16_000]);
    edge.feed(&cycle(8, 6));
    edge.wait_event("calm", long);
    assert!(
        sub.wait_for("home/cry/event", long, |p| p.contains("\"seq\":1"))
            .is_some(),
        "the first cry and calm arrive while the broker is up"
    );

    // The broker dies mid-stream: the pipeline goes on, its events wait in the queue. (The
    // pause lets the monitor see the connection drop: a publish the broker acknowledged in its
    // last instant and had not saved is lost with it, which no client can prevent.)
    assert!(
        persist.join("mosquitto.db").is_file(),
        "the broker saved its database (the subscriber's session) before it is killed"
    );
    broker.kill();
    std::thread::sleep(Duration::from_secs(1));
    for _ in 0..2 {
        edge.feed(&cycle(8, 6));
        edge.wait_event("cry", long);
        edge.wait_event("calm", long);
    }
    broker.restart();
    edge.feed(&cycle(8, 6));
    edge.wait_event("calm", long);
    let (status, stderr) = edge.finish();
    assert!(status.success(), "{stderr}");
    assert!(
        stderr.contains("8 alert events delivered, 0 undelivered"),
        "{stderr}"
    );

    assert!(
        sub.wait_for("home/cry/event", long, |p| p.contains("\"seq\":7"))
            .is_some(),
        "the last event arrives"
    );
    let received: Vec<u64> = sub
        .on("home/cry/event", Duration::from_secs(1))
        .iter()
        .map(|m| json(&m.payload)["seq"].as_u64().unwrap())
        .collect();
    // QoS 1 is at least once: an event whose acknowledgement died with the broker may come
    // twice, but only as a repeat of one already seen; new events come in order, none missing.
    let mut first_seen = Vec::new();
    for &seq in &received {
        if !first_seen.contains(&seq) {
            first_seen.push(seq);
        }
    }
    assert_eq!(
        first_seen,
        (0..8).collect::<Vec<u64>>(),
        "received {received:?}\n{stderr}"
    );
    let states: Vec<String> = sub
        .on("home/cry/state", Duration::ZERO)
        .into_iter()
        .map(|m| m.payload)
        .collect();
    assert_eq!(states.last().map(String::as_str), Some("OFF"), "{states:?}");
}

#[test]
fn a_broker_down_from_the_start_never_stops_the_stream_and_the_queue_bound_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let file = cycles_file(dir.path(), 2);
    let model = two_head();
    let url = format!("mqtt://127.0.0.1:{}/nobody", free_port());
    let mut args = stream_args(file.to_str().unwrap(), model.to_str().unwrap(), &url);
    args.extend(["--mqtt-queue", "3"]);
    let out = succeeded(edge(&args));
    let events = json_lines(&out)
        .iter()
        .filter(|l| l["type"] == "cry" || l["type"] == "calm")
        .count();
    assert_eq!(events, 4, "every event is still printed");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("cannot reach"), "{stderr}");
    assert!(
        stderr.contains(
            "0 alert events delivered, 3 undelivered in the queue, 1 beyond the queue bound"
        ),
        "{stderr}"
    );
}

#[test]
fn a_killed_monitor_is_announced_offline_by_the_broker() {
    let dir = tempfile::tempdir().unwrap();
    let broker = Broker::start(dir.path(), "allow_anonymous true");
    let mut sub = Subscriber::new(broker.port, "sub-c", &["kid/status"]);
    let model = two_head();
    let url = broker.url("kid");
    let mut edge = Streamer::start(&stdin_args(model.to_str().unwrap(), &url));
    let online = sub.wait_for("kid/status", Duration::from_secs(30), |p| p == "online");
    assert!(online.is_some(), "online is published on connection");
    edge.child.kill().unwrap(); // SIGKILL: no goodbye, the last will speaks
    let _ = edge.child.wait();
    let offline = sub.wait_for("kid/status", Duration::from_secs(30), |p| p == "offline");
    assert!(
        offline.is_some_and(|m| !m.payload.is_empty()),
        "the broker publishes the will"
    );
}

#[test]
fn a_wrong_password_or_an_untrusted_certificate_stops_with_exit_code_6() {
    let dir = tempfile::tempdir().unwrap();
    let passwords = dir.path().join("passwords");
    let made = Command::new("mosquitto_passwd")
        .args(["-b", "-c"])
        .arg(&passwords)
        .args(["monitor", "right-one"])
        .status()
        .expect("mosquitto_passwd runs");
    assert!(made.success());
    let broker = Broker::start(
        dir.path(),
        &format!(
            "allow_anonymous false\npassword_file {}",
            passwords.display()
        ),
    );
    let file = cycles_file(dir.path(), 1);
    let model = two_head();
    let url = format!("mqtt://monitor@127.0.0.1:{}/auth", broker.port);
    let args = stream_args(file.to_str().unwrap(), model.to_str().unwrap(), &url);
    let out = edge_command()
        .args(&args)
        .env("EDGE_INFER_MQTT_PASSWORD", "wrong-one")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stderr = failed_with(out, 6);
    assert!(
        stderr.contains("refused the connection") && stderr.contains("password"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("wrong-one"),
        "the password is never printed"
    );
    // The right one, from a file.
    let pw = dir.path().join("pw");
    std::fs::write(&pw, "right-one\n").unwrap();
    let mut args = stream_args(file.to_str().unwrap(), model.to_str().unwrap(), &url);
    args.extend(["--mqtt-password-file", pw.to_str().unwrap()]);
    let out = succeeded(edge(&args));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("2 alert events delivered"), "{stderr}");

    // TLS: the broker's CA is trusted with --mqtt-ca; another CA, or the system's roots, not.
    let (ca, cert, key) = certificates("127.0.0.1");
    let (other_ca, _, _) = certificates("127.0.0.1");
    for (name, pem) in [
        ("ca.pem", &ca),
        ("cert.pem", &cert),
        ("key.pem", &key),
        ("other-ca.pem", &other_ca),
    ] {
        std::fs::write(dir.path().join(name), pem).unwrap();
    }
    let d = dir.path().display();
    let tls = Broker::start(
        dir.path(),
        &format!(
            "allow_anonymous true\ncafile {d}/ca.pem\ncertfile {d}/cert.pem\nkeyfile {d}/key.pem"
        ),
    );
    let url = format!("mqtts://127.0.0.1:{}/tls", tls.port);
    let with_ca = |ca: Option<&str>| {
        let mut args = stream_args(file.to_str().unwrap(), model.to_str().unwrap(), &url);
        let path = ca.map(|c| dir.path().join(c).display().to_string());
        if let Some(p) = &path {
            args.extend(["--mqtt-ca", p.as_str()]);
        }
        let owned: Vec<String> = args.iter().map(ToString::to_string).collect();
        edge(&owned.iter().map(String::as_str).collect::<Vec<_>>())
    };
    let out = succeeded(with_ca(Some("ca.pem")));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("2 alert events delivered"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for ca in [Some("other-ca.pem"), None] {
        let stderr = failed_with(with_ca(ca), 6);
        // "invalid peer certificate: UnknownIssuer", or a machine without any roots.
        assert!(stderr.contains("certificate"), "{ca:?}: {stderr}");
    }
}

/// A loopback proxy to `port` that waits `delay` before it connects each client through, as a
/// slow network or TLS handshake would.
fn slow_proxy(port: u16, delay: Duration) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let proxy_port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for client in listener.incoming() {
            let Ok(client) = client else { return };
            std::thread::spawn(move || {
                std::thread::sleep(delay);
                let Ok(upstream) = TcpStream::connect(("127.0.0.1", port)) else {
                    return;
                };
                let (mut a, mut b) = (client.try_clone().unwrap(), upstream.try_clone().unwrap());
                std::thread::spawn(move || {
                    let _ = std::io::copy(&mut a, &mut b);
                });
                let (mut c, mut d) = (upstream, client);
                let _ = std::io::copy(&mut c, &mut d);
            });
        }
    });
    proxy_port
}

#[test]
fn a_connection_that_takes_longer_than_a_poll_still_connects() {
    let dir = tempfile::tempdir().unwrap();
    let broker = Broker::start(dir.path(), "allow_anonymous true");
    let proxy = slow_proxy(broker.port, Duration::from_millis(400));
    let file = cycles_file(dir.path(), 1);
    let model = two_head();
    let url = format!("mqtt://127.0.0.1:{proxy}/slow");
    let out = succeeded(edge(&stream_args(
        file.to_str().unwrap(),
        model.to_str().unwrap(),
        &url,
    )));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("2 alert events delivered, 0 undelivered"),
        "{stderr}"
    );
}

#[test]
fn discovery_is_sent_again_when_home_assistant_comes_back_online() {
    let dir = tempfile::tempdir().unwrap();
    let broker = Broker::start(dir.path(), "allow_anonymous true");
    let mut sub = Subscriber::new(broker.port, "sub-ha", &["homeassistant/+/room/+/config"]);
    let model = two_head();
    let url = broker.url("room");
    let mut args = stdin_args(model.to_str().unwrap(), &url);
    args.push("--ha-discovery");
    let edge = Streamer::start(&args);
    let first = sub.wait_for(
        "homeassistant/event/room/cry_event/config",
        Duration::from_secs(30),
        |p| !p.is_empty(),
    );
    assert!(first.is_some(), "discovery on connection");
    let before = sub.seen.len();
    // Home Assistant announces its restart on its birth topic.
    let mut options = MqttOptions::new("fake-home-assistant", "127.0.0.1", broker.port);
    options.set_keep_alive(Duration::from_secs(5));
    let (ha, mut connection) = Client::new(options, 4);
    ha.publish("homeassistant/status", QoS::AtLeastOnce, false, "online")
        .unwrap();
    std::thread::spawn(move || for _ in connection.iter() {});
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut again: Vec<String> = Vec::new();
    while again.len() < 3 {
        assert!(Instant::now() < deadline, "re-sent so far: {again:?}");
        let left = deadline.saturating_duration_since(Instant::now());
        if let Ok(m) = sub.rx.recv_timeout(left) {
            sub.seen.push(m.clone());
            if !again.contains(&m.topic) {
                again.push(m.topic);
            }
        }
    }
    assert!(sub.seen.len() > before);
    again.sort_unstable();
    assert_eq!(
        again,
        [
            "homeassistant/binary_sensor/room/crying/config",
            "homeassistant/event/room/cry_event/config",
            "homeassistant/sensor/room/cry_reason/config",
        ]
    );
    let (status, stderr) = edge.finish();
    assert!(status.success(), "{stderr}");
    assert!(stderr.contains("Home Assistant came online"), "{stderr}");
}
