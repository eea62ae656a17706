//! edge-infer as a systemd service: the shipped config file is valid for `listen`, and the
//! binary speaks systemd's notification protocol (READY, WATCHDOG from the inference loop,
//! STOPPING) on `$NOTIFY_SOCKET`.

mod common;
use common::*;

use std::io::Write;
use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use clap::Parser;
use edge_infer::cli::{Cli, Command, with_config_file};

#[test]
fn the_shipped_config_file_is_a_valid_listen_configuration() {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("../dist/systemd/edge-infer.toml");
    let args = with_config_file(
        ["edge-infer", "listen", "--config", file.to_str().unwrap()]
            .iter()
            .map(Into::into)
            .collect(),
    )
    .unwrap();
    let Command::Listen(listen) = Cli::try_parse_from(&args).unwrap().command else {
        panic!("listen");
    };
    assert_eq!(
        listen.pipeline.model.model,
        Path::new("/var/lib/edge-infer/cry.onnx")
    );
    assert!(listen.pipeline.alerts.ha_discovery);
    let unit = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../dist/systemd/edge-infer.service"),
    )
    .unwrap();
    assert!(unit.contains("Type=notify") && unit.contains("WatchdogSec="));
    assert!(unit.contains("--config /etc/edge-infer/edge-infer.toml"));
}

#[test]
fn the_shipped_config_file_s_http_history_and_webhook_examples_are_options_of_listen() {
    let shipped = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../dist/systemd/edge-infer.toml"),
    )
    .unwrap();
    let enabled: String = shipped
        .lines()
        .map(|l| match l.strip_prefix("# ") {
            Some(rest)
                if ["http", "history_days", "night =", "webhook"]
                    .iter()
                    .any(|k| rest.starts_with(k)) =>
            {
                rest
            }
            _ => l,
        })
        .map(|l| format!("{l}\n"))
        .collect();
    assert_ne!(enabled, shipped, "the example has HTTP keys");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("edge-infer.toml");
    std::fs::write(&file, enabled).unwrap();
    let args = with_config_file(
        ["edge-infer", "listen", "--config", file.to_str().unwrap()]
            .iter()
            .map(Into::into)
            .collect(),
    )
    .unwrap();
    let Command::Listen(listen) = Cli::try_parse_from(&args).unwrap().command else {
        panic!("listen");
    };
    assert_eq!(
        listen.pipeline.webhooks.webhook,
        ["https://ntfy.sh/my-nursery-topic"]
    );
    assert_eq!(
        listen.pipeline.webhooks.webhook_header_file.as_deref(),
        Some(Path::new("/etc/edge-infer/webhook-header"))
    );
    let history = &listen.pipeline.history;
    assert_eq!(
        (history.history_days, history.night.as_str()),
        (90, "18-10")
    );
    let http = listen.pipeline.http;
    assert_eq!(http.http, Some("127.0.0.1:8080".parse().unwrap()));
    assert_eq!(http.http_max_concurrent, Some(3));
    assert_eq!(
        http.http_token_file.as_deref(),
        Some(Path::new("/etc/edge-infer/http-token"))
    );
}

#[test]
fn readiness_and_watchdog_pings_reach_systemd_s_socket() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notify");
    let socket = UnixDatagram::bind(&path).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let model = tiny_model("fp32");
    let mut child = edge_command()
        .args([
            "stream",
            "--input",
            "-",
            "--format",
            "f32le",
            "--model",
            model.to_str().unwrap(),
        ])
        .env("NOTIFY_SOCKET", &path)
        .env("WATCHDOG_USEC", "200000")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut got: Vec<String> = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut buf = [0u8; 512];
    let second: Vec<u8> = (0..16_000)
        .flat_map(|i| (0.3 * (i as f32 * 0.05).sin()).to_le_bytes())
        .collect();
    // Audio a second at a time: every window the loop finishes may ping the watchdog.
    while got.iter().filter(|m| m.starts_with("WATCHDOG=1")).count() < 2 {
        assert!(Instant::now() < deadline, "pings so far: {got:?}");
        stdin.write_all(&second).unwrap();
        std::thread::sleep(Duration::from_millis(150));
        while let Ok(n) = socket.recv(&mut buf) {
            got.push(String::from_utf8_lossy(&buf[..n]).to_string());
        }
    }
    assert!(got[0].starts_with("READY=1\n"), "{got:?}");
    drop(stdin);
    assert!(child.wait().unwrap().success());
    let mut last = Vec::new();
    while let Ok(n) = socket.recv(&mut buf) {
        last.push(String::from_utf8_lossy(&buf[..n]).to_string());
    }
    assert!(last.iter().any(|m| m == "STOPPING=1\n"), "{last:?}");
}
