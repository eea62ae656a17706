//! Load benchmark of the HTTP API (not a timed test): the real binary streams audio in real time
//! with `--http` while one live (SSE) client listens and N clients POST a clip to
//! `/api/v1/classify` for a while. It prints the statuses, latency percentiles, throughput
//! against what the permits allow (permits / single-clip time), the live messages received, and
//! the server's RSS before and after, as text and one JSON line.
//!
//! ```sh
//! cargo build -p edge-infer && cargo run -p edge-infer --example http_load -- \
//!     --bin $CARGO_TARGET_DIR/debug/edge-infer --model M.onnx --clip C.wav --clients 1 --seconds 60
//! ```

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const TOKEN: &str = "load-benchmark-token-0123456789";

struct Args {
    bin: PathBuf,
    model: PathBuf,
    clip: PathBuf,
    clients: usize,
    seconds: u64,
    permits: Option<usize>,
}

fn parse() -> Args {
    let mut a = std::env::args().skip(1);
    let mut args = Args {
        bin: PathBuf::new(),
        model: PathBuf::new(),
        clip: PathBuf::new(),
        clients: 1,
        seconds: 60,
        permits: None,
    };
    while let Some(flag) = a.next() {
        let mut value = || a.next().unwrap_or_else(|| panic!("{flag} needs a value"));
        match flag.as_str() {
            "--bin" => args.bin = value().into(),
            "--model" => args.model = value().into(),
            "--clip" => args.clip = value().into(),
            "--clients" => args.clients = value().parse().expect("--clients N"),
            "--seconds" => args.seconds = value().parse().expect("--seconds S"),
            "--permits" => args.permits = Some(value().parse().expect("--permits N")),
            other => panic!("unknown flag {other}"),
        }
    }
    assert!(args.bin.is_file(), "--bin: the edge-infer binary");
    assert!(args.model.is_file(), "--model: an ONNX model");
    assert!(args.clip.is_file(), "--clip: an audio file to post");
    args
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.split_whitespace().next()?.parse().ok())
        })
        .unwrap_or(0)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

/// A quiet WAV of `seconds` for the live stream (16 kHz mono, 16-bit).
fn quiet_wav(path: &std::path::Path, seconds: u64) {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 16_000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    let mut x: u32 = 1;
    for _ in 0..seconds * 16_000 {
        // Faint noise, above nothing and below the gate.
        x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        w.write_sample(((x >> 16) as i16) >> 10).unwrap();
    }
    w.finalize().unwrap();
}

/// One POST of `clip`: the status (0 for a failed connection) and the seconds it took.
fn classify(agent: &ureq::Agent, url: &str, bearer: &str, clip: &[u8]) -> (u16, f64) {
    let started = Instant::now();
    let status = match agent
        .post(url)
        .set("Authorization", bearer)
        .send_bytes(clip)
    {
        Ok(r) => r.status(),
        Err(ureq::Error::Status(code, _)) => code,
        Err(ureq::Error::Transport(_)) => 0,
    };
    (status, started.elapsed().as_secs_f64())
}

fn main() {
    let args = parse();
    let dir = tempfile::tempdir().unwrap();
    let live_input = dir.path().join("live.wav");
    quiet_wav(&live_input, args.seconds + 120);
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let base = format!("http://127.0.0.1:{port}");
    let mut cmd = Command::new(&args.bin);
    cmd.args(["stream", "--realtime", "--input"])
        .arg(&live_input)
        .arg("--model")
        .arg(&args.model)
        .args(["--http", &format!("127.0.0.1:{port}")])
        .env("EDGE_INFER_HTTP_TOKEN", TOKEN)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    if let Some(p) = args.permits {
        cmd.args(["--http-max-concurrent", &p.to_string()]);
    }
    let mut server = cmd.spawn().expect("edge-infer starts");
    let agent = ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(120))
        .build();
    let deadline = Instant::now() + Duration::from_secs(60);
    while agent.get(&format!("{base}/healthz")).call().is_err() {
        assert!(Instant::now() < deadline, "no /healthz");
        std::thread::sleep(Duration::from_millis(100));
    }
    let clip = Arc::new(std::fs::read(&args.clip).unwrap());
    let bearer = format!("Bearer {TOKEN}");
    let url = format!("{base}/api/v1/classify");
    let post = |agent: &ureq::Agent| classify(agent, &url, &bearer, &clip);

    // The live client: counts window messages while the load runs.
    let stop = Arc::new(AtomicBool::new(false));
    let windows = Arc::new(AtomicU64::new(0));
    {
        // No overall timeout: the stream lasts as long as the load.
        let agent = ureq::AgentBuilder::new().build();
        let (base, bearer) = (base.clone(), bearer.clone());
        let (stop, windows) = (stop.clone(), windows.clone());
        std::thread::spawn(move || {
            let res = agent
                .get(&format!("{base}/api/v1/live"))
                .set("Authorization", &bearer)
                .call()
                .expect("live stream");
            for line in BufReader::new(res.into_reader()).lines() {
                let Ok(line) = line else { return };
                if line == "event: window" {
                    windows.fetch_add(1, Ordering::Relaxed);
                }
                if stop.load(Ordering::Relaxed) {
                    return;
                }
            }
        });
    }

    for _ in 0..2 {
        post(&agent);
    }
    let mut single: Vec<f64> = (0..10).map(|_| post(&agent).1).collect();
    single.sort_by(f64::total_cmp);
    let single_p50 = percentile(&single, 0.5);
    let rss_before = rss_kib(server.id());
    let windows_before = windows.load(Ordering::Relaxed);

    let results: Arc<Mutex<Vec<(u16, f64)>>> = Arc::new(Mutex::new(Vec::new()));
    let started = Instant::now();
    let end = started + Duration::from_secs(args.seconds);
    let workers: Vec<_> = (0..args.clients)
        .map(|_| {
            let (agent, results, clip) = (agent.clone(), results.clone(), clip.clone());
            let (url, bearer) = (url.clone(), bearer.clone());
            std::thread::spawn(move || {
                while Instant::now() < end {
                    let (status, took) = classify(&agent, &url, &bearer, &clip);
                    results.lock().unwrap().push((status, took));
                    // What a polite client does: wait as Retry-After says (1 s).
                    if status == 429 {
                        std::thread::sleep(Duration::from_secs(1));
                    }
                }
            })
        })
        .collect();
    // The server's RSS every 10 s of the load: flat memory or not.
    let pid = server.id();
    let sampler = std::thread::spawn(move || {
        let mut series = Vec::new();
        while Instant::now() < end {
            std::thread::sleep(
                Duration::from_secs(10).min(end.saturating_duration_since(Instant::now())),
            );
            series.push(rss_kib(pid) / 1024);
        }
        series
    });
    for w in workers {
        w.join().unwrap();
    }
    let rss_series = sampler.join().unwrap();
    let elapsed = started.elapsed().as_secs_f64();
    let rss_after = rss_kib(server.id());
    let dropped_samples = agent
        .get(&format!("{base}/api/v1/state"))
        .set("Authorization", &bearer)
        .call()
        .ok()
        .and_then(|r| r.into_json::<serde_json::Value>().ok())
        .and_then(|v| v["dropped_samples"].as_u64());
    let windows_during = windows.load(Ordering::Relaxed) - windows_before;
    stop.store(true, Ordering::Relaxed);
    let _ = server.kill();
    let _ = server.wait();

    let results = results.lock().unwrap();
    let mut by_status = std::collections::BTreeMap::new();
    for (s, _) in results.iter() {
        *by_status.entry(*s).or_insert(0u64) += 1;
    }
    let mut ok: Vec<f64> = results
        .iter()
        .filter(|(s, _)| *s == 200)
        .map(|(_, t)| *t)
        .collect();
    ok.sort_by(f64::total_cmp);
    let throughput = ok.len() as f64 / elapsed;
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let permits = args.permits.unwrap_or(cores.saturating_sub(1).max(1));
    let ideal = permits as f64 / single_p50;
    let server_errors: u64 = by_status
        .iter()
        .filter(|(s, _)| **s >= 500 || **s == 0)
        .map(|(_, n)| n)
        .sum();
    println!(
        "{} clients for {elapsed:.0} s; statuses {by_status:?}; 5xx or failed: {server_errors}",
        args.clients
    );
    println!(
        "single clip p50 {:.1} ms; under load p50 {:.1} / p95 {:.1} / p99 {:.1} ms",
        single_p50 * 1e3,
        percentile(&ok, 0.5) * 1e3,
        percentile(&ok, 0.95) * 1e3,
        percentile(&ok, 0.99) * 1e3
    );
    println!(
        "throughput {throughput:.2}/s; the {permits} permit(s) allow {ideal:.2}/s ({:.0} %)",
        100.0 * throughput / ideal
    );
    println!(
        "the monitor's capture ring dropped {dropped_samples:?} samples (a starved monitor drops)"
    );
    println!(
        "live windows received during the load: {windows_during} (~{:.2}/s); RSS {} -> {} MiB, every 10 s: {rss_series:?}",
        windows_during as f64 / elapsed,
        rss_before / 1024,
        rss_after / 1024
    );
    println!(
        "{}",
        serde_json::json!({
            "clients": args.clients, "seconds": elapsed, "statuses": by_status,
            "server_errors": server_errors,
            "single_p50_ms": single_p50 * 1e3,
            "p50_ms": percentile(&ok, 0.5) * 1e3, "p95_ms": percentile(&ok, 0.95) * 1e3,
            "p99_ms": percentile(&ok, 0.99) * 1e3,
            "throughput_per_s": throughput, "ideal_per_s": ideal, "permits": permits,
            "live_windows": windows_during, "dropped_samples": dropped_samples, "rss_before_kib": rss_before, "rss_after_kib": rss_after, "rss_mib_every_10_s": rss_series,
        })
    );
}
