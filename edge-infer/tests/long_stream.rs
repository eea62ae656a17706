//! An hour of audio through `stream` at full speed: memory stays flat. And Ctrl-C ends a
//! stream cleanly with a summary.

mod common;
use common::{edge_command, loud, tiny_model};

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::mpsc;

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().strip_suffix("kB"))
        .and_then(|v| v.trim().parse().ok())
        .expect("VmRSS")
}

fn s16le(samples: &[f32]) -> Vec<u8> {
    samples
        .iter()
        .flat_map(|s| ((s.clamp(-1.0, 1.0) * 32767.0) as i16).to_le_bytes())
        .collect()
}

#[test]
#[cfg(target_os = "linux")]
fn an_hour_streams_in_flat_memory() {
    const SECONDS: usize = 3600;
    let model = tiny_model("int8");
    let mut child = edge_command()
        .args([
            "stream", "--input", "-", "--format", "s16le", "--rate", "16000",
        ])
        .args(["--gate-dbfs", "-120", "--model", model.to_str().unwrap()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let pid = child.id();
    let mut stdin = child.stdin.take().unwrap();
    let (go_on, wait) = mpsc::channel::<()>();
    // Writes the first minute, waits for its measurement, writes the rest, and keeps stdin
    // open until the last window has been measured.
    let writer = std::thread::spawn(move || {
        for second in 0..SECONDS {
            if second == 60 {
                wait.recv().unwrap();
            }
            let audio = loud(1.0, 16_000, second as u64 * 7919 + 1);
            stdin.write_all(&s16le(&audio)).unwrap();
        }
        wait.recv().unwrap();
        drop(stdin);
    });
    let mut after_first_minute = None;
    let mut at_the_end = None;
    let mut windows = 0;
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        let line = line.unwrap();
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        if v["type"] != "window" {
            continue;
        }
        windows += 1;
        assert_eq!(v["gated"], false);
        let t = v["t"].as_f64().unwrap();
        if t == 60.0 {
            after_first_minute = Some(rss_kib(pid));
            go_on.send(()).unwrap();
        } else if t == SECONDS as f64 {
            at_the_end = Some(rss_kib(pid));
            go_on.send(()).unwrap();
        }
    }
    writer.join().unwrap();
    assert!(child.wait().unwrap().success());
    assert_eq!(
        windows,
        SECONDS - 2,
        "one window per second after the first 3 s"
    );
    let (first, last) = (after_first_minute.unwrap(), at_the_end.unwrap());
    let change = (last as f64 - first as f64) / first as f64;
    assert!(
        change.abs() <= 0.10,
        "RSS after 1 min {first} KiB, after 1 h {last} KiB ({:+.1} %)",
        change * 100.0
    );
}

#[test]
#[cfg(unix)]
fn ctrl_c_ends_a_stream_with_a_summary() {
    let model = tiny_model("int8");
    let mut child = edge_command()
        .args(["stream", "--input", "-", "--model", model.to_str().unwrap()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(&s16le(&loud(5.0, 16_000, 3))).unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut windows = 0;
    while windows < 3 {
        let line = lines.next().unwrap().unwrap();
        windows += usize::from(line.contains("\"type\":\"window\""));
    }
    // stdin stays open: the stream would wait for more audio forever.
    let killed = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let rest: Vec<String> = lines.map(|l| l.unwrap()).collect();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0));
    let summary: serde_json::Value = serde_json::from_str(rest.last().unwrap()).unwrap();
    assert_eq!(summary["type"], "summary");
    assert_eq!(summary["stopped"], "interrupted");
    assert_eq!(
        summary["windows"], 3,
        "5 s of audio: windows ending at 3, 4, 5 s"
    );
    drop(stdin);
}
