//! `cargo xtask ha-test`: edge-infer against a real Home Assistant. Home Assistant Core, pinned
//! and installed from PyPI into a venv cached under the build directory (the `home-assistant`
//! suite), runs with `hass --skip-pip` on a free loopback port beside mosquitto. The test
//! onboards it and sets up its MQTT integration over the REST API, as the frontend would (an
//! owner, a token, the config flow), then streams a cry recording, replayed in real time, through
//! `edge-infer stream --mqtt ... --ha-discovery` and reads Home Assistant's own states:
//!
//! - the three entities exist under the ids the README gives;
//! - the crying sensor turns on during the cry and off after it;
//! - the event entity received `cry_started` (the one edge-infer printed), and the reason
//!   sensor shows that cry's reason;
//! - after Home Assistant restarts the entities come back: the retained discovery configs are
//!   emptied while it is down, so only the monitor's answer to its birth message (`online` on
//!   `homeassistant/status`) can bring them back;
//! - once the monitor is killed with SIGKILL, every entity is unavailable (its last will).
//!
//! The owner's password and the token stay in this process: they are on no command line and
//! in no log. Every process started here is stopped by its PID, also when a check fails.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::checks::{self, eventually};
use crate::cmd::{Cmd, cargo, target_dir, workspace_root};
use crate::error::{Failure, Result};
use crate::http::{self, Body};
use crate::json::{self, Value, quote};
use crate::mqtt;
use crate::packages::{self, Suite, Venv};
use crate::provision::{self, Mode};

const MOSQUITTO: &str = "/usr/sbin/mosquitto";
/// The monitor's topic prefix; the entity ids derive from it.
const PREFIX: &str = "nursery/cry";
const CRYING: &str = "binary_sensor.nursery_cry_crying";
const REASON: &str = "sensor.nursery_cry_cry_reason";
const EVENT: &str = "event.nursery_cry_cry_event";
/// Where the monitor's discovery configs are retained (Home Assistant's default prefix).
const CONFIG_TOPICS: [&str; 3] = [
    "homeassistant/binary_sensor/nursery_cry/crying/config",
    "homeassistant/sensor/nursery_cry/cry_reason/config",
    "homeassistant/event/nursery_cry/cry_event/config",
];
/// The cry recordings, one of which is replayed.
const CLIPS: &str = "data/samples/hungry";
/// Silence after the cry in the replayed file: the cry ends (`calm` after three quiet windows)
/// and the crying sensor stays off for a few seconds before the recording starts again.
const SILENCE_S: u32 = 10;

fn step(m: impl Into<String>) -> Failure {
    Failure::Step(m.into())
}

fn free_port() -> Result<u16> {
    http::free_port().map_err(step)
}

fn expect(what: &str, ok: bool, seen: &str) -> Result {
    checks::expect("ha-test", what, ok, seen)
}

/// A program started here, killed by its PID (SIGKILL) when dropped.
struct Process {
    child: Child,
    name: &'static str,
}

impl Process {
    fn spawn(name: &'static str, command: &mut Command) -> Result<Process> {
        let child = command
            .spawn()
            .map_err(|e| step(format!("{name}: cannot start: {e}")))?;
        eprintln!("ha-test: started {name} (PID {})", child.id());
        Ok(Process { child, name })
    }

    /// Whether it has exited (its status, then).
    fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// SIGTERM, and SIGKILL if it has not exited within `grace`.
    fn stop(mut self, grace: Duration) -> Result {
        let pid = self.child.id().to_string();
        Cmd::new("kill").args(["-TERM", &pid]).run()?;
        if !eventually(grace, || self.exited().is_some()) {
            return Err(step(format!(
                "{} (PID {pid}) did not stop within {grace:?} of SIGTERM",
                self.name
            )));
        }
        Ok(())
    }

    /// SIGKILL, as a power cut or the OOM killer would.
    fn kill(mut self) -> Result {
        self.child
            .kill()
            .map_err(|e| step(format!("SIGKILL {}: {e}", self.name)))?;
        let _ = self.child.wait();
        Ok(())
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The test's scratch folder, which alone names what is in it; removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Result<Scratch> {
        let dir = std::env::temp_dir().join(format!("xtask-ha-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).map_err(|e| step(format!("{}: {e}", dir.display())))?;
        Ok(Scratch(dir))
    }

    /// Home Assistant's config folder (its auth store too).
    fn config(&self) -> PathBuf {
        self.0.join("config")
    }

    /// What hass prints: its log, and what it printed before the log was set up.
    fn hass_log(&self) -> PathBuf {
        self.0.join("hass.log")
    }

    fn monitor_log(&self) -> PathBuf {
        self.0.join("edge-infer.log")
    }

    fn broker_config(&self) -> PathBuf {
        self.0.join("mosquitto.conf")
    }

    fn broker_log(&self) -> PathBuf {
        self.0.join("mosquitto.log")
    }

    fn recording(&self) -> PathBuf {
        self.0.join("cry-then-silence.wav")
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A RIFF WAVE file's PCM format and samples.
#[derive(Debug)]
struct Wav {
    channels: u16,
    rate: u32,
    bits: u16,
    data: Vec<u8>,
}

impl Wav {
    fn read(path: &Path) -> Result<Wav> {
        let bytes = std::fs::read(path).map_err(|e| step(format!("{}: {e}", path.display())))?;
        Wav::parse(&bytes).map_err(|e| step(format!("{}: {e}", path.display())))
    }

    fn parse(bytes: &[u8]) -> std::result::Result<Wav, String> {
        if bytes.len() < 12 || &bytes[..4] != b"RIFF" || &bytes[8..12] != b"WAVE" {
            return Err("not a RIFF WAVE file".into());
        }
        let (mut format, mut data) = (None, None);
        let mut rest = &bytes[12..];
        while rest.len() >= 8 {
            let size = u32::from_le_bytes(rest[4..8].try_into().expect("4 bytes")) as usize;
            let body = rest.get(8..8 + size).ok_or("a chunk cut short")?;
            match &rest[..4] {
                b"fmt " if size >= 16 => format = Some(body),
                b"data" => data = Some(body),
                _ => {}
            }
            // Chunks are padded to an even size.
            rest = rest.get(8 + size + size % 2..).unwrap_or_default();
        }
        let format = format.ok_or("no fmt chunk")?;
        let u16_at = |i: usize| u16::from_le_bytes([format[i], format[i + 1]]);
        if u16_at(0) != 1 || u16_at(14) != 16 {
            return Err("not 16-bit PCM".into());
        }
        Ok(Wav {
            channels: u16_at(2),
            rate: u32::from_le_bytes(format[4..8].try_into().expect("4 bytes")),
            bits: 16,
            data: data.ok_or("no data chunk")?.to_vec(),
        })
    }

    fn bytes_per_second(&self) -> usize {
        self.rate as usize * usize::from(self.channels) * usize::from(self.bits / 8)
    }

    fn seconds(&self) -> f64 {
        self.data.len() as f64 / self.bytes_per_second() as f64
    }

    /// Root mean square of the samples, full scale 1.
    fn rms(&self) -> f64 {
        let samples = self.data.chunks_exact(2);
        let n = samples.len().max(1) as f64;
        let sum: f64 = samples
            .map(|s| f64::from(i16::from_le_bytes([s[0], s[1]])) / 32768.0)
            .map(|x| x * x)
            .sum();
        (sum / n).sqrt()
    }

    /// Silence appended up to a whole `seconds`, so that every replay of the file starts on
    /// the same window boundary and the model sees the same windows each time.
    fn padded_to(mut self, seconds: u32) -> Wav {
        let len = seconds as usize * self.bytes_per_second();
        self.data.resize(len.max(self.data.len()), 0);
        self
    }

    fn to_bytes(&self) -> Vec<u8> {
        let block = self.channels * self.bits / 8;
        let mut out = Vec::with_capacity(44 + self.data.len());
        out.extend_from_slice(b"RIFF");
        out.extend_from_slice(&(36 + self.data.len() as u32).to_le_bytes());
        out.extend_from_slice(b"WAVEfmt ");
        out.extend_from_slice(&16u32.to_le_bytes());
        out.extend_from_slice(&1u16.to_le_bytes());
        out.extend_from_slice(&self.channels.to_le_bytes());
        out.extend_from_slice(&self.rate.to_le_bytes());
        out.extend_from_slice(&(self.rate * u32::from(block)).to_le_bytes());
        out.extend_from_slice(&block.to_le_bytes());
        out.extend_from_slice(&self.bits.to_le_bytes());
        out.extend_from_slice(b"data");
        out.extend_from_slice(&(self.data.len() as u32).to_le_bytes());
        out.extend_from_slice(&self.data);
        out
    }
}

/// The loudest bundled cry recording followed by silence, written to `out`.
fn cry_then_silence(out: &Path) -> Result {
    let folder = workspace_root().join(CLIPS);
    let mut clips: Vec<PathBuf> = std::fs::read_dir(&folder)
        .map_err(|e| step(format!("{}: {e}", folder.display())))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "wav"))
        .collect();
    clips.sort();
    let mut loudest: Option<(PathBuf, Wav)> = None;
    for clip in clips {
        let wav = Wav::read(&clip)?;
        if loudest.as_ref().is_none_or(|(_, w)| wav.rms() > w.rms()) {
            loudest = Some((clip, wav));
        }
    }
    let (clip, wav) = loudest.ok_or_else(|| step(format!("no WAV in {}", folder.display())))?;
    let seconds = wav.seconds().ceil() as u32 + SILENCE_S;
    eprintln!(
        "ha-test: replaying {} ({:.1} s, RMS {:.3}) and {SILENCE_S} s of silence",
        clip.display(),
        wav.seconds(),
        wav.rms()
    );
    std::fs::write(out, wav.padded_to(seconds).to_bytes())
        .map_err(|e| step(format!("{}: {e}", out.display())))
}

/// Home Assistant Core on a loopback port, with its config folder.
struct HomeAssistant {
    venv: &'static Venv,
    config: PathBuf,
    log: PathBuf,
    port: u16,
    process: Option<Process>,
    token: Option<String>,
}

impl HomeAssistant {
    fn new(venv: &'static Venv, scratch: &Scratch, port: u16) -> Result<HomeAssistant> {
        let config = scratch.config();
        std::fs::create_dir_all(&config).map_err(|e| step(format!("{}: {e}", config.display())))?;
        // Only what the test needs besides Home Assistant's default integrations; a fixed
        // place and zone so that it asks nothing on the network.
        let yaml = format!(
            "homeassistant:\n  name: ha-test\n  latitude: 0\n  longitude: 0\n  elevation: 0\n  \
             unit_system: metric\n  time_zone: UTC\n  country: DE\n  currency: EUR\n\
             http:\n  server_host: 127.0.0.1\n  server_port: {port}\n\
             api:\nconfig:\nonboarding:\n"
        );
        let file = config.join("configuration.yaml");
        std::fs::write(&file, yaml).map_err(|e| step(format!("{}: {e}", file.display())))?;
        // Its network settings, as its UI stores them, with only the loopback interface: its
        // mDNS resolver then joins no multicast group on the machine's network.
        let storage = config.join(".storage");
        std::fs::create_dir_all(&storage)
            .map_err(|e| step(format!("{}: {e}", storage.display())))?;
        std::fs::write(
            storage.join("core.network"),
            "{\"version\":1,\"minor_version\":1,\"key\":\"core.network\",\
             \"data\":{\"configured_adapters\":[\"lo\"]}}",
        )
        .map_err(|e| step(format!("{}: {e}", storage.display())))?;
        Ok(HomeAssistant {
            venv,
            config,
            log: scratch.hass_log(),
            port,
            process: None,
            token: None,
        })
    }

    fn start(&mut self) -> Result {
        let hass = provision::venv_dir(self.venv).join("bin/hass");
        // Appended to: the restart's lines follow the first start's.
        let out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .map_err(|e| step(format!("{}: {e}", self.log.display())))?;
        let err = out.try_clone().map_err(|e| step(e.to_string()))?;
        eprintln!(
            "$ {} --skip-pip --config {}",
            hass.display(),
            self.config.display()
        );
        self.process = Some(Process::spawn(
            "hass",
            Command::new(&hass)
                .arg("--skip-pip")
                .arg("--config")
                .arg(&self.config)
                .stdin(Stdio::null())
                .stdout(out)
                .stderr(err),
        )?);
        Ok(())
    }

    fn stop(&mut self) -> Result {
        match self.process.take() {
            Some(p) => p.stop(Duration::from_secs(60)),
            None => Ok(()),
        }
    }

    fn request(&self, method: &str, path: &str, body: Option<Body>) -> Result<http::Response> {
        http::request(self.port, method, path, self.token.as_deref(), body).map_err(step)
    }

    /// A JSON request that must answer 200 with JSON.
    fn json(&self, method: &str, path: &str, body: Option<&str>) -> Result<Value> {
        let body = body.map(|text| Body {
            content_type: "application/json",
            text,
        });
        let r = self.request(method, path, body)?;
        if r.status != 200 {
            return Err(step(format!(
                "{method} {path}: HTTP {}: {}",
                r.status, r.body
            )));
        }
        json::parse(&r.body).map_err(|e| step(format!("{method} {path}: {e}: {}", r.body)))
    }

    /// Waits for `ready` to hold, failing early if hass exits.
    fn wait(
        &mut self,
        what: &str,
        within: Duration,
        mut ready: impl FnMut(&Self) -> bool,
    ) -> Result {
        let started = Instant::now();
        let mut exited = None;
        let ok = eventually(within, || {
            exited = self.process.as_mut().and_then(Process::exited);
            exited.is_some() || ready(self)
        });
        if let Some(status) = exited {
            return Err(step(format!("hass exited ({status}) before {what}")));
        }
        if !ok {
            return Err(step(format!("hass: no {what} within {within:?}")));
        }
        eprintln!(
            "ha-test: {what} after {:.1} s",
            started.elapsed().as_secs_f64()
        );
        Ok(())
    }

    /// Waits for the first start's onboarding API.
    fn wait_for_onboarding(&mut self) -> Result {
        self.wait("onboarding API", Duration::from_secs(180), |ha| {
            ha.request("GET", "/api/onboarding", None)
                .is_ok_and(|r| r.status == 200)
        })
    }

    /// Waits until Home Assistant says it is running (it has finished starting).
    fn wait_running(&mut self) -> Result {
        self.wait("state RUNNING", Duration::from_secs(180), |ha| {
            ha.json("GET", "/api/config", None)
                .is_ok_and(|c| c.str_at("state") == Some("RUNNING"))
        })
    }

    /// What the frontend does on a first start: the owner, and a token for them.
    fn onboard(&mut self) -> Result {
        let client_id = format!("http://127.0.0.1:{}/", self.port);
        let password = random_hex(16)?;
        let user = self.json(
            "POST",
            "/api/onboarding/users",
            Some(&format!(
                "{{\"client_id\":{},\"name\":\"Test\",\"username\":\"test\",\"password\":{},\
                 \"language\":\"en\"}}",
                quote(&client_id),
                quote(&password)
            )),
        )?;
        let code = user
            .str_at("auth_code")
            .ok_or_else(|| step("onboarding answered no auth_code"))?;
        let form = format!(
            "grant_type=authorization_code&code={code}&client_id={}",
            client_id.replace(':', "%3A").replace('/', "%2F")
        );
        let r = self.request(
            "POST",
            "/auth/token",
            Some(Body {
                content_type: "application/x-www-form-urlencoded",
                text: &form,
            }),
        )?;
        let token = json::parse(&r.body)
            .ok()
            .and_then(|v| v.str_at("access_token").map(str::to_string))
            .ok_or_else(|| step(format!("/auth/token: HTTP {}, no access token", r.status)))?;
        self.token = Some(token);
        eprintln!("ha-test: onboarded (an owner and a token, kept in this process)");
        Ok(())
    }

    /// The MQTT integration, through its config flow, on the broker at `port`.
    fn add_mqtt(&self, broker_port: u16) -> Result {
        let flow = self.json(
            "POST",
            "/api/config/config_entries/flow",
            Some("{\"handler\":\"mqtt\",\"show_advanced_options\":false}"),
        )?;
        let form = flow.str_at("step_id").unwrap_or_default();
        let id = flow
            .str_at("flow_id")
            .ok_or_else(|| step(format!("the MQTT config flow has no id: {flow}")))?;
        expect(
            "the MQTT config flow asks for the broker",
            form == "broker",
            &format!("{flow}"),
        )?;
        let done = self.json(
            "POST",
            &format!("/api/config/config_entries/flow/{id}"),
            Some(&format!(
                "{{\"broker\":\"127.0.0.1\",\"port\":{broker_port}}}"
            )),
        )?;
        let state = done.get("result").and_then(|r| r.str_at("state"));
        expect(
            "the MQTT integration is set up on the test's broker (config entry loaded)",
            done.str_at("type") == Some("create_entry") && state == Some("loaded"),
            &format!("{done}"),
        )
    }

    /// The state objects of the crying sensor, the reason sensor and the event entity.
    fn states(&self) -> Vec<Option<Value>> {
        [CRYING, REASON, EVENT].map(|e| self.state(e)).to_vec()
    }

    /// An entity's state object; `None` while Home Assistant has none.
    fn state(&self, entity: &str) -> Option<Value> {
        let r = self
            .request("GET", &format!("/api/states/{entity}"), None)
            .ok()?;
        (r.status == 200)
            .then(|| json::parse(&r.body).ok())
            .flatten()
    }

    fn rss_kib(&self) -> Option<u64> {
        let pid = self.process.as_ref()?.child.id();
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
    }
}

/// `n` random bytes from the kernel, in hex.
fn random_hex(n: usize) -> Result<String> {
    use std::io::Read;
    let mut bytes = vec![0u8; n];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .map_err(|e| step(format!("/dev/urandom: {e}")))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// Entities' state objects as JSON, for a failed check.
fn show(states: &[Option<Value>]) -> String {
    let shown: Vec<String> = states
        .iter()
        .map(|s| s.as_ref().map_or("(none)".into(), Value::to_string))
        .collect();
    shown.join("; ")
}

/// The `state` of an entity's state object.
fn state_of(v: &Option<Value>) -> &str {
    v.as_ref()
        .and_then(|v| v.str_at("state"))
        .unwrap_or("(none)")
}

fn attribute<'a>(v: &'a Option<Value>, name: &str) -> Option<&'a Value> {
    v.as_ref()?.get("attributes")?.get(name)
}

/// The cry and calm lines edge-infer printed, read on a thread as they come.
#[derive(Clone, Default)]
struct Printed(Arc<Mutex<Vec<Value>>>);

impl Printed {
    fn read_from(&self, stdout: std::process::ChildStdout) {
        let lines = self.0.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                let Ok(v) = json::parse(&line) else { continue };
                if matches!(v.str_at("type"), Some("cry" | "calm")) {
                    lines.lock().expect("not poisoned").push(v);
                }
            }
        });
    }

    /// The last printed line, if it is a cry.
    fn cry_now(&self) -> Option<Value> {
        let lines = self.0.lock().expect("not poisoned");
        lines
            .last()
            .filter(|v| v.str_at("type") == Some("cry"))
            .cloned()
    }

    /// The reason of the last cry printed.
    fn last_reason(&self) -> Option<String> {
        let lines = self.0.lock().expect("not poisoned");
        lines
            .iter()
            .rev()
            .find(|v| v.str_at("type") == Some("cry"))
            .and_then(|v| v.str_at("label").map(str::to_string))
    }

    fn count(&self, kind: &str) -> usize {
        let lines = self.0.lock().expect("not poisoned");
        lines
            .iter()
            .filter(|v| v.str_at("type") == Some(kind))
            .count()
    }
}

fn number(v: Option<&Value>) -> Option<&str> {
    match v {
        Some(Value::Number(n)) => Some(n),
        _ => None,
    }
}

/// The last lines of a log, for a failed check.
fn tail(path: &Path, lines: usize) {
    if let Ok(text) = std::fs::read_to_string(path) {
        let all: Vec<&str> = text.lines().collect();
        eprintln!("--- last lines of {}:", path.display());
        for l in &all[all.len().saturating_sub(lines)..] {
            eprintln!("{l}");
        }
    }
}

/// Builds edge-infer, starts mosquitto and Home Assistant, and checks the monitor in it.
pub fn run() -> Result {
    provision::provision(&[Suite::HomeAssistant], Mode::Install)?;
    let venv = packages::venvs(&[Suite::HomeAssistant])[0];
    // The binary the tests built (a no-op in CI), as it ships.
    cargo()
        .args(["build", "-p", "edge-infer", "--features", "mic", "--locked"])
        .run()?;
    let edge = target_dir().join("debug/edge-infer");
    let scratch = Scratch::new()?;
    let started = Instant::now();
    let result = checks(&scratch, &edge, venv);
    if result.is_err() {
        for log in [
            scratch.hass_log(),
            scratch.monitor_log(),
            scratch.broker_log(),
        ] {
            tail(&log, 40);
        }
    } else {
        eprintln!(
            "ha-test: passed in {:.1} s (Home Assistant started twice, onboarding, MQTT, a cry \
             and its calm, a restart, a killed monitor)",
            started.elapsed().as_secs_f64()
        );
    }
    result
}

fn checks(scratch: &Scratch, edge: &Path, venv: &'static Venv) -> Result {
    let (_broker, broker_port) = start_broker(scratch)?;
    let mut ha = HomeAssistant::new(venv, scratch, free_port()?)?;
    let clock = Instant::now();
    ha.start()?;
    ha.wait_for_onboarding()?;
    ha.onboard()?;
    ha.wait_running()?;
    let first_start = clock.elapsed();
    let version = ha.json("GET", "/api/config", None)?;
    let version = version.str_at("version").unwrap_or("unknown").to_string();
    ha.add_mqtt(broker_port)?;

    let (mut monitor, printed) = start_monitor(scratch, edge, broker_port)?;
    the_entities_follow_a_cry(&ha, &mut monitor, &printed)?;
    let rss = ha.rss_kib();
    let restart =
        the_entities_come_back_after_a_restart(&mut ha, &mut monitor, &printed, broker_port)?;
    monitor.kill()?;
    let mut seen = Vec::new();
    let unavailable = eventually(Duration::from_secs(15), || {
        seen = ha.states();
        seen.iter().all(|s| state_of(s) == "unavailable")
    });
    expect(
        "once the monitor is killed with SIGKILL, every entity is unavailable (its last will)",
        unavailable,
        &show(&seen),
    )?;

    eprintln!(
        "ha-test: Home Assistant {version}: first start (to running, onboarded) {:.1} s, restart \
         {:.1} s, RSS {}",
        first_start.as_secs_f64(),
        restart.as_secs_f64(),
        rss.map_or("unknown".into(), |k| format!(
            "{:.0} MiB",
            k as f64 / 1024.0
        ))
    );
    Ok(())
}

/// mosquitto on a free loopback port; the process and the port.
fn start_broker(scratch: &Scratch) -> Result<(Process, u16)> {
    let port = free_port()?;
    let config = scratch.broker_config();
    // `user root` keeps the test's user when run as root (see edge-infer/tests/mqtt.rs).
    std::fs::write(
        &config,
        format!(
            "listener {port} 127.0.0.1\nallow_anonymous true\nuser root\nlog_dest file {}\n",
            scratch.broker_log().display()
        ),
    )
    .map_err(|e| step(format!("{}: {e}", config.display())))?;
    let mut broker = Process::spawn(
        "mosquitto",
        Command::new(MOSQUITTO)
            .arg("-c")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    )?;
    let listening = eventually(Duration::from_secs(10), || {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
    expect(
        "mosquitto listens on loopback",
        listening && broker.exited().is_none(),
        &format!("port {port}"),
    )?;
    Ok((broker, port))
}

/// `edge-infer stream` of the cry recording, replayed in real time forever, with discovery;
/// the process and the cries and calms it prints.
fn start_monitor(scratch: &Scratch, edge: &Path, broker_port: u16) -> Result<(Process, Printed)> {
    let recording = scratch.recording();
    cry_then_silence(&recording)?;
    let model = workspace_root().join("edge-infer/tests/fixtures/tiny-two-head-fp32.onnx");
    let url = format!("mqtt://127.0.0.1:{broker_port}/{PREFIX}");
    let log = std::fs::File::create(scratch.monitor_log())
        .map_err(|e| step(format!("{}: {e}", scratch.monitor_log().display())))?;
    // The fixture's cry head has random weights (a cry probability near 0.5 for any sound): at
    // a tiny threshold every window above the loudness gate is a cry window, so the recording
    // is a cry and the silence after it, gated, its calm (as in edge-infer/tests/mqtt.rs).
    // `--loop --realtime` keeps the monitor alive for the restart and the kill.
    let args = [
        "stream".into(),
        "--input".into(),
        recording.display().to_string(),
        "--model".into(),
        model.display().to_string(),
        "--cry-threshold".into(),
        "0.000001".into(),
        "--loop".into(),
        "--realtime".into(),
        "--mqtt".into(),
        url,
        "--ha-discovery".into(),
    ];
    eprintln!("$ {} {}", edge.display(), args.join(" "));
    let mut monitor = Process::spawn(
        "edge-infer",
        Command::new(edge)
            .args(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log),
    )?;
    let printed = Printed::default();
    printed.read_from(monitor.child.stdout.take().expect("piped"));
    Ok((monitor, printed))
}

/// Discovery makes the entities; the cry turns the crying sensor on, sets the reason and
/// fires the event; its calm turns the sensor off.
fn the_entities_follow_a_cry(
    ha: &HomeAssistant,
    monitor: &mut Process,
    printed: &Printed,
) -> Result {
    let mut seen = Vec::new();
    let all_there = eventually(Duration::from_secs(60), || {
        seen = ha.states();
        seen.iter().all(Option::is_some)
    });
    expect(
        &format!(
            "Home Assistant made the three entities from discovery: {CRYING}, {REASON}, {EVENT}"
        ),
        all_there,
        &show(&seen),
    )?;
    expect(
        "the crying sensor is a sound sensor",
        attribute(&seen[0], "device_class").and_then(Value::as_str) == Some("sound"),
        &show(&seen[..1]),
    )?;

    let mut crying = None;
    let on = eventually(Duration::from_secs(60), || {
        crying = ha.state(CRYING);
        state_of(&crying) == "on"
    });
    expect(
        "the crying sensor turns on during the cry",
        on && monitor.exited().is_none(),
        &show(std::slice::from_ref(&crying)),
    )?;
    // The cry edge-infer printed is the one Home Assistant shows: its reason and its event.
    let (mut cry, mut reason, mut event) = (None, None, None);
    let matched = eventually(Duration::from_secs(15), || {
        cry = printed.cry_now();
        reason = ha.state(REASON);
        event = ha.state(EVENT);
        let Some(label) = cry.as_ref().and_then(|c| c.str_at("label")) else {
            return false;
        };
        state_of(&reason) == label
            && attribute(&event, "event_type").and_then(Value::as_str) == Some("cry_started")
            && attribute(&event, "reason").and_then(Value::as_str) == Some(label)
            && number(attribute(&event, "seq")) == number(cry.as_ref().and_then(|c| c.get("seq")))
    });
    expect(
        "the event entity received the cry_started edge-infer printed, and the reason sensor \
         shows its reason",
        matched,
        &format!(
            "printed {}; {}",
            cry.map_or("no cry".into(), |c| c.to_string()),
            show(&[reason, event])
        ),
    )?;
    let calms = printed.count("calm");
    let off = eventually(Duration::from_secs(30), || {
        crying = ha.state(CRYING);
        state_of(&crying) == "off"
    });
    expect(
        "the crying sensor turns off after the cry, when edge-infer printed its calm",
        off && eventually(Duration::from_secs(5), || printed.count("calm") > calms),
        &show(std::slice::from_ref(&crying)),
    )
}

/// Home Assistant stopped and started again; how long until it ran again. The retained
/// discovery configs would bring the entities back by themselves: emptied while it is down,
/// only the configs the monitor sends again when Home Assistant announces `online` can.
fn the_entities_come_back_after_a_restart(
    ha: &mut HomeAssistant,
    monitor: &mut Process,
    printed: &Printed,
    broker_port: u16,
) -> Result<Duration> {
    let clock = Instant::now();
    ha.stop()?;
    let emptied: Vec<(&str, &[u8])> = CONFIG_TOPICS.iter().map(|t| (*t, &b""[..])).collect();
    mqtt::publish_retained(broker_port, "xtask-ha-test", &emptied).map_err(step)?;
    eprintln!("ha-test: Home Assistant stopped; the retained discovery configs emptied");
    ha.start()?;
    ha.wait_running()?;
    let restart = clock.elapsed();
    let mut seen = Vec::new();
    // Before the configs come, Home Assistant shows the entities it remembers as
    // `unavailable` with `restored: true`.
    let back = eventually(Duration::from_secs(60), || {
        seen = ha.states();
        seen.iter().all(|s| {
            !matches!(state_of(s), "unavailable" | "(none)") && attribute(s, "restored").is_none()
        }) && matches!(state_of(&seen[0]), "on" | "off")
            && Some(state_of(&seen[1])) == printed.last_reason().as_deref()
    });
    expect(
        "after Home Assistant restarts, the entities come back live (discovery sent again on \
         its birth message)",
        back && monitor.exited().is_none(),
        &format!(
            "{}; the last reason printed: {:?}",
            show(&seen),
            printed.last_reason()
        ),
    )?;
    eprintln!(
        "ha-test: entities back {:.1} s after the restart began",
        clock.elapsed().as_secs_f64()
    );
    Ok(restart)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wav(channels: u16, rate: u32, samples: &[i16]) -> Wav {
        Wav {
            channels,
            rate,
            bits: 16,
            data: samples.iter().flat_map(|s| s.to_le_bytes()).collect(),
        }
    }

    #[test]
    fn a_padded_recording_reads_back_whole_seconds_of_it_then_silence() {
        let w = wav(1, 8, &[1000, -1000, 2000]).padded_to(2);
        let back = Wav::parse(&w.to_bytes()).unwrap();
        assert_eq!((back.channels, back.rate, back.bits), (1, 8, 16));
        assert_eq!(back.seconds(), 2.0);
        assert_eq!(&back.data[..6], &w.data[..6]);
        assert!(back.data[6..].iter().all(|b| *b == 0));
        // Never cut.
        assert_eq!(wav(2, 1, &[1, 2, 3, 4]).padded_to(1).data.len(), 8);
    }

    #[test]
    fn reads_a_wave_file_with_other_chunks_and_refuses_what_is_not_16_bit_pcm() {
        let mut bytes = wav(1, 8000, &[5, 6]).to_bytes();
        // A LIST chunk of odd size (padded) between fmt and data.
        let list = [b"LIST".as_slice(), &3u32.to_le_bytes(), b"abc\0"].concat();
        bytes.splice(36..36, list);
        let w = Wav::parse(&bytes).unwrap();
        assert_eq!(w.data, [5, 0, 6, 0]);
        let mut float = wav(1, 8000, &[0]).to_bytes();
        float[20] = 3;
        assert!(Wav::parse(&float).unwrap_err().contains("16-bit PCM"));
        assert!(Wav::parse(b"RIFF\0\0\0\0WAVX").is_err());
    }

    #[test]
    fn the_loudness_is_the_root_mean_square() {
        assert_eq!(wav(1, 8000, &[0, 0]).rms(), 0.0);
        let r = wav(1, 8000, &[16384, -16384]).rms();
        assert!((r - 0.5).abs() < 1e-9, "{r}");
    }
}
