//! The HTTP API against the real binary, over real sockets on loopback: `serve` classifying
//! uploads behind a token with its limits, and `stream --http` showing a streamed cry in the
//! state, the live SSE stream, `/healthz` and `/metrics`.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::Child;
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

use common::{edge, failed_with, json_lines, sample, succeeded, tiny_model};
use serde_json::{Value, json};

const TOKEN: &str = "a-test-token-of-32-bytes-0123456";

/// A loopback port free now and not handed to another test of this binary (tests run in
/// parallel, and the system may give a just-released port out again).
fn free_port() -> u16 {
    static GIVEN: std::sync::Mutex<Vec<u16>> = std::sync::Mutex::new(Vec::new());
    loop {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut given = GIVEN.lock().unwrap();
        if !given.contains(&port) {
            given.push(port);
            return port;
        }
    }
}

/// An HTTP response as read off the socket.
#[derive(Debug)]
struct Response {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Response {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&self.body)))
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Reads a response head, then its body (by length, chunked, or to the end).
fn read_response(stream: TcpStream) -> Response {
    let mut r = BufReader::new(stream);
    let (status, headers) = read_head(&mut r);
    let mut body = Vec::new();
    let length = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .map(|(_, v)| v.parse::<usize>().unwrap());
    let chunked = headers
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"));
    if let Some(n) = length {
        body.resize(n, 0);
        r.read_exact(&mut body).unwrap();
    } else if chunked {
        while let Some(chunk) = read_chunk(&mut r) {
            body.extend(chunk);
        }
    } else {
        r.read_to_end(&mut body).unwrap();
    }
    Response {
        status,
        headers,
        body,
    }
}

fn read_head(r: &mut impl BufRead) -> (u16, Vec<(String, String)>) {
    let mut line = String::new();
    r.read_line(&mut line).unwrap();
    let status = line
        .split_whitespace()
        .nth(1)
        .unwrap_or_else(|| panic!("no status line: {line:?}"))
        .parse()
        .unwrap();
    let mut headers = Vec::new();
    loop {
        line.clear();
        r.read_line(&mut line).unwrap();
        let l = line.trim_end();
        if l.is_empty() {
            return (status, headers);
        }
        let (k, v) = l.split_once(':').unwrap();
        headers.push((k.trim().to_string(), v.trim().to_string()));
    }
}

/// One chunk of a chunked body; `None` at the last one.
fn read_chunk(r: &mut impl BufRead) -> Option<Vec<u8>> {
    let mut line = String::new();
    r.read_line(&mut line).ok()?;
    let size = usize::from_str_radix(line.trim(), 16).ok()?;
    if size == 0 {
        return None;
    }
    let mut chunk = vec![0; size + 2];
    r.read_exact(&mut chunk).ok()?;
    chunk.truncate(size);
    Some(chunk)
}

/// Sends a request and reads the response; `token` as a bearer token.
fn request(
    port: u16,
    method: &str,
    path: &str,
    token: Option<&str>,
    extra: &[(&str, &str)],
    body: &[u8],
) -> Response {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    if let Some(t) = token {
        head.push_str(&format!("Authorization: Bearer {t}\r\n"));
    }
    for (k, v) in extra {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes()).unwrap();
    s.write_all(body).unwrap();
    read_response(s)
}

fn get(port: u16, path: &str, token: Option<&str>) -> Response {
    request(port, "GET", path, token, &[], b"")
}

/// A running edge-infer, killed when dropped.
struct Running {
    child: Child,
    stdin: Option<std::process::ChildStdin>,
    lines: Receiver<String>,
    stderr: Option<std::thread::JoinHandle<String>>,
}

impl Running {
    fn start(args: &[&str], env: &[(&str, &str)]) -> Self {
        let mut cmd = common::edge_command();
        cmd.args(args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("edge-infer starts");
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
        let mut err = child.stderr.take().unwrap();
        let stderr = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = err.read_to_string(&mut text);
            text
        });
        Self {
            stdin: child.stdin.take(),
            child,
            lines,
            stderr: Some(stderr),
        }
    }

    fn feed(&mut self, audio: &[f32]) {
        let bytes: Vec<u8> = audio.iter().flat_map(|s| s.to_le_bytes()).collect();
        let stdin = self.stdin.as_mut().unwrap();
        stdin.write_all(&bytes).unwrap();
        stdin.flush().unwrap();
    }

    /// Waits until `GET /healthz` answers 200.
    fn wait_healthy(&mut self, port: u16) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                let stderr = self.stderr.take().unwrap().join().unwrap();
                panic!("edge-infer exited ({status}) before serving:\n{stderr}");
            }
            if TcpStream::connect(("127.0.0.1", port)).is_ok()
                && get(port, "/healthz", None).status == 200
            {
                return;
            }
            assert!(Instant::now() < deadline, "no /healthz on port {port}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Sends SIGTERM (stdin still open) and waits for the exit; returns it and stderr.
    fn terminate(mut self) -> (std::process::ExitStatus, String) {
        let pid = self.child.id().to_string();
        assert!(
            std::process::Command::new("kill")
                .args(["-TERM", &pid])
                .status()
                .unwrap()
                .success()
        );
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return (status, self.stderr.take().unwrap().join().unwrap());
            }
            assert!(
                Instant::now() < deadline,
                "edge-infer did not stop on SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An SSE client: `(event, data)` pairs as they arrive.
fn live(port: u16, token: &str) -> Receiver<(String, Value)> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        s,
        "GET /api/v1/live HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n\r\n"
    )
    .unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut r = BufReader::new(s);
        let (status, _) = read_head(&mut r);
        assert_eq!(status, 200);
        let mut pending = String::new();
        while let Some(chunk) = read_chunk(&mut r) {
            pending.push_str(&String::from_utf8_lossy(&chunk));
            while let Some(end) = pending.find("\n\n") {
                let block: String = pending.drain(..end + 2).collect();
                let mut event = String::from("message");
                let mut data = String::new();
                for line in block.lines() {
                    if let Some(e) = line.strip_prefix("event:") {
                        event = e.trim().to_string();
                    } else if let Some(d) = line.strip_prefix("data:") {
                        data.push_str(d.trim());
                    }
                }
                let value = serde_json::from_str(&data).unwrap_or(Value::Null);
                if tx.send((event, value)).is_err() {
                    return;
                }
            }
        }
    });
    rx
}

/// The next SSE message of kind `event` (and, for `event`, of `event_type`).
fn next_live(rx: &Receiver<(String, Value)>, event: &str, event_type: Option<&str>) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let left = deadline
            .checked_duration_since(Instant::now())
            .unwrap_or_else(|| panic!("no `{event}` {event_type:?} message"));
        let (e, v) = rx.recv_timeout(left).expect("the live stream is open");
        if e == event && event_type.is_none_or(|t| v["event_type"] == t) {
            return v;
        }
    }
}

fn token_file(dir: &Path) -> String {
    let f = dir.join("token");
    std::fs::write(&f, format!("{TOKEN}\n")).unwrap();
    f.display().to_string()
}

/// `edge-infer health`, the container image's healthcheck: 0 and the body for a 200 from a
/// running monitor, 1 (a healthcheck's "unhealthy") for any other answer or none.
#[test]
fn health_exits_zero_only_when_the_monitor_answers_200() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let model = tiny_model("two-head-fp32");
    let token = token_file(dir.path());
    let mut server = Running::start(
        &[
            "serve",
            "--model",
            model.to_str().unwrap(),
            "--http",
            &addr,
            "--http-token-file",
            &token,
        ],
        &[],
    );
    server.wait_healthy(port);

    let url = format!("http://{addr}/healthz");
    let ok = succeeded(edge(&["health", "--url", &url]));
    let body: Value = serde_json::from_slice(&ok.stdout).expect("the /healthz body");
    assert_eq!(body, get(port, "/healthz", None).json());

    // A route that answers, but not 200 (the token is missing): unhealthy, and why.
    let refused = format!("http://{addr}/api/v1/state");
    let err = failed_with(edge(&["health", "--url", &refused]), 1);
    assert!(err.contains(&refused) && err.contains("HTTP 401"), "{err}");
    drop(server);
    // Nobody listening: unhealthy, within the timeout.
    let started = Instant::now();
    let err = failed_with(
        edge(&["health", "--url", &url, "--timeout-seconds", "2"]),
        1,
    );
    assert!(err.contains(&url) && err.contains("refused"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(10));
    let err = failed_with(edge(&["health", "--url", "localhost:8080/healthz"]), 2);
    assert!(err.contains("--url"), "{err}");
}

#[test]
fn serve_classifies_uploads_as_classify_does_behind_the_token_and_its_limits() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let model = tiny_model("two-head-fp32");
    let model = model.to_str().unwrap();
    let token = token_file(dir.path());
    let mut server = Running::start(
        &[
            "serve",
            "--model",
            model,
            "--http",
            &addr,
            "--http-token-file",
            &token,
            "--http-max-body",
            "2000000",
            "--http-max-concurrent",
            "1",
        ],
        &[],
    );
    server.wait_healthy(port);

    // The token: required everywhere but /healthz, and never accepted wrong.
    let none = get(port, "/api/v1/state", None);
    assert_eq!(none.status, 401, "{}", none.text());
    assert_eq!(none.json()["code"], 401);
    assert_eq!(none.header("www-authenticate"), Some("Bearer"));
    assert_eq!(
        get(
            port,
            "/api/v1/state",
            Some("a-test-token-of-32-bytes-0123457")
        )
        .status,
        401
    );
    assert_eq!(get(port, "/metrics", None).status, 401);
    let state = get(port, "/api/v1/state", Some(TOKEN));
    assert_eq!(state.status, 200);
    assert_eq!(state.json()["mode"], "serve");
    assert_eq!(state.json()["model"]["name"], "tiny-two-head-fp32.onnx");

    // The OpenAPI document lists exactly the routes served, and each of them answers (none is
    // the fallback's "no route").
    assert_eq!(get(port, "/api/v1/openapi.json", None).status, 401);
    let doc = get(port, "/api/v1/openapi.json", Some(TOKEN)).json();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"), "{doc}");
    let mut listed: Vec<(String, String)> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .unwrap()
                .keys()
                .map(|method| (method.to_uppercase(), path.clone()))
        })
        .collect();
    listed.sort();
    let want = [
        ("GET", "/api/v1/events"),
        ("GET", "/api/v1/live"),
        ("GET", "/api/v1/nights"),
        ("GET", "/api/v1/openapi.json"),
        ("GET", "/api/v1/state"),
        ("GET", "/healthz"),
        ("GET", "/metrics"),
        ("POST", "/api/v1/classify"),
        ("POST", "/api/v1/suspend"),
    ];
    assert_eq!(
        listed,
        want.map(|(m, p)| (m.to_string(), p.to_string())),
        "serve has no page"
    );
    for (method, path) in &listed {
        let answer = request(port, method, path, Some(TOKEN), &[], b"");
        assert!(
            !answer.text().contains("no route"),
            "{method} {path}: {}",
            answer.text()
        );
    }
    assert!(
        doc["paths"]["/healthz"]["get"]["security"].is_null(),
        "/healthz is open"
    );
    assert_eq!(
        doc["paths"]["/api/v1/state"]["get"]["security"],
        json!([{"bearer": []}])
    );
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    let state_fields = doc["components"]["schemas"]["MonitorState"]["properties"]
        .as_object()
        .unwrap();
    let served = state.json();
    let mut documented: Vec<&String> = state_fields.keys().collect();
    let mut answered: Vec<&String> = served.as_object().unwrap().keys().collect();
    documented.sort();
    answered.sort();
    assert_eq!(
        documented, answered,
        "the state's schema is what it answers"
    );
    assert_eq!(get(port, "/api/v1/live", Some(TOKEN)).status, 404);
    let missing = get(port, "/api/v1/nothing", Some(TOKEN));
    assert_eq!(missing.status, 404);
    assert!(
        missing.json()["error"]
            .as_str()
            .unwrap()
            .contains("/api/v1/nothing")
    );

    // An upload is answered with what `classify` prints for the same file.
    let clip = sample("hungry");
    let bytes = std::fs::read(&clip).unwrap();
    let answer = request(port, "POST", "/api/v1/classify", Some(TOKEN), &[], &bytes);
    assert_eq!(answer.status, 200, "{}", answer.text());
    assert!(answer.header("x-inference-time").is_some());
    assert!(answer.header("x-total-time").is_some());
    let got = answer.json();
    let cli = json_lines(&succeeded(edge(&[
        "classify",
        "--model",
        model,
        clip.to_str().unwrap(),
    ])));
    for key in [
        "label",
        "confidence",
        "probabilities",
        "windows",
        "seconds",
        "cry_prob",
        "cry",
    ] {
        assert_eq!(got[key], cli[0][key], "{key}");
    }
    assert_eq!(got["file"], "upload");

    // The same as a multipart form, named by its file name.
    let boundary = "XtestBoundaryX";
    let mut form = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"night.wav\"\r\nContent-Type: audio/wav\r\n\r\n"
    )
    .into_bytes();
    form.extend(&bytes);
    form.extend(format!("\r\n--{boundary}--\r\n").as_bytes());
    let content_type = format!("multipart/form-data; boundary={boundary}");
    let multi = request(
        port,
        "POST",
        "/api/v1/classify",
        Some(TOKEN),
        &[("Content-Type", &content_type)],
        &form,
    );
    assert_eq!(multi.status, 200, "{}", multi.text());
    assert_eq!(multi.json()["file"], "night.wav");
    assert_eq!(multi.json()["label"], cli[0]["label"]);

    // Not audio: 400 with the decoder's words.
    let text = request(
        port,
        "POST",
        "/api/v1/classify",
        Some(TOKEN),
        &[],
        b"these bytes are not audio at all",
    );
    assert_eq!(text.status, 400);
    let why = text.json()["error"].as_str().unwrap().to_string();
    assert!(why.contains("upload") && why.contains("not"), "{why}");

    // Over the body limit: 413 before the body is read.
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        s,
        "POST /api/v1/classify HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\nContent-Length: 3000000\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    s.write_all(&bytes[..1000]).unwrap();
    let big = read_response(s);
    assert_eq!(big.status, 413, "{}", big.text());
    assert!(
        big.json()["error"]
            .as_str()
            .unwrap()
            .contains("--http-max-body")
    );

    // A second classification while one holds the only slot (its body still arriving): 429
    // with Retry-After; the first, cut short, gets a 400 saying so. Should the second reach the
    // server first (under emulation, say), the slow one is the one refused: try again.
    let slow_request = || {
        let mut slow = TcpStream::connect(("127.0.0.1", port)).unwrap();
        write!(
            slow,
            "POST /api/v1/classify HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            bytes.len()
        )
        .unwrap();
        slow.write_all(&bytes[..bytes.len() / 2]).unwrap();
        slow.flush().unwrap();
        slow
    };
    let (mut served_meanwhile, mut refused_slow) = (0, 0);
    let mut attempt = 0;
    let (slow, busy) = loop {
        attempt += 1;
        let slow = slow_request();
        std::thread::sleep(Duration::from_millis(300 * attempt));
        let r = request(port, "POST", "/api/v1/classify", Some(TOKEN), &[], &bytes);
        if r.status == 429 || attempt == 8 {
            break (slow, r);
        }
        served_meanwhile += usize::from(r.status == 200);
        slow.shutdown(std::net::Shutdown::Write).unwrap();
        let lost = read_response(slow);
        assert_eq!(lost.status, 429, "{}", lost.text());
        refused_slow += 1;
    };
    assert_eq!(busy.status, 429, "{}", busy.text());
    assert_eq!(busy.header("retry-after"), Some("1"));
    slow.shutdown(std::net::Shutdown::Write).unwrap();
    let cut = read_response(slow);
    assert_eq!(cut.status, 400, "{}", cut.text());
    assert!(
        cut.json()["error"].as_str().unwrap().contains("cut short"),
        "{}",
        cut.text()
    );
    // The slot is free again.
    assert_eq!(
        request(port, "POST", "/api/v1/classify", Some(TOKEN), &[], &bytes).status,
        200
    );

    // Every answer above was counted.
    let metrics = get(port, "/metrics", Some(TOKEN));
    assert_eq!(metrics.status, 200);
    let m = metrics.text();
    let ok = 3 + served_meanwhile;
    for line in [
        format!("edge_infer_http_requests_total{{route=\"/api/v1/classify\",status=\"200\"}} {ok}"),
        format!(
            "edge_infer_http_requests_total{{route=\"/api/v1/classify\",status=\"429\"}} {}",
            1 + refused_slow
        ),
        "edge_infer_http_requests_total{route=\"/api/v1/classify\",status=\"413\"} 1".into(),
        // Two bad uploads, and the empty POST of the OpenAPI check.
        "edge_infer_http_requests_total{route=\"/api/v1/classify\",status=\"400\"} 3".into(),
        "edge_infer_http_requests_total{route=\"/api/v1/state\",status=\"401\"} 2".into(),
        format!("edge_infer_classify_seconds_count {ok}"),
    ] {
        assert!(m.contains(&line), "no `{line}` in\n{m}");
    }

    let (status, stderr) = server.terminate();
    assert!(status.success(), "exit {status}: {stderr}");
    assert!(!stderr.contains(TOKEN), "the token was logged:\n{stderr}");
}

#[test]
fn a_public_address_needs_a_token_of_sixteen_bytes() {
    let model = tiny_model("int8");
    let model = model.to_str().unwrap();
    let port = free_port().to_string();
    let public = format!("0.0.0.0:{port}");
    let err = failed_with(edge(&["serve", "--model", model, "--http", &public]), 2);
    assert!(err.contains("needs a token"), "{err}");
    let out = common::edge_command()
        .args(["serve", "--model", model, "--http", &public])
        .env("EDGE_INFER_HTTP_TOKEN", "short-token")
        .output()
        .unwrap();
    let err = failed_with(out, 2);
    assert!(err.contains("at least 16"), "{err}");
    assert!(!err.contains("short-token"), "the token was printed: {err}");
    let err = failed_with(edge(&["serve", "--model", model]), 2);
    assert!(err.contains("--http"), "{err}");
    let err = failed_with(
        edge(&[
            "stream",
            "--input",
            "x.wav",
            "--model",
            model,
            "--http-token-file",
            "t",
        ]),
        2,
    );
    assert!(err.contains("go with --http"), "{err}");
}

/// Loud harmonic tone: what the two-head fixture calls a cry at a tiny threshold.
fn tone(seconds: f32) -> Vec<f32> {
    (0..(seconds * 16_000.0) as usize)
        .map(|i| {
            let t = i as f32 / 16_000.0;
            (1..=4)
                .map(|k| 0.2 * (std::f32::consts::TAU * 440.0 * k as f32 * t).sin() / k as f32)
                .sum::<f32>()
        })
        .collect()
}

/// `POST /api/v1/suspend` with a JSON `body`, behind [`TOKEN`].
fn post_suspend(port: u16, body: &str) -> Response {
    let json = [("Content-Type", "application/json")];
    request(
        port,
        "POST",
        "/api/v1/suspend",
        Some(TOKEN),
        &json,
        body.as_bytes(),
    )
}

/// `stream` of raw f32 PCM on stdin with the two-head fixture at a tiny threshold (a loud tone
/// is a cry), serving HTTP on `port` behind [`TOKEN`]; `extra` flags, `env` variables.
fn stream_stdin(port: u16, extra: &[&str], env: &[(&str, &str)]) -> Running {
    let addr = format!("127.0.0.1:{port}");
    let model = tiny_model("two-head-fp32");
    let mut args = vec![
        "stream",
        "--input",
        "-",
        "--format",
        "f32le",
        "--rate",
        "16000",
        "--model",
        model.to_str().unwrap(),
        "--cry-threshold",
        "0.000001",
        "--http",
        &addr,
    ];
    args.extend(extra);
    let mut env = env.to_vec();
    env.push(("EDGE_INFER_HTTP_TOKEN", TOKEN));
    Running::start(&args, &env)
}

impl Running {
    /// The next stdout line of `type` (`cry`, `calm`).
    fn next_line(&self, kind: &str) -> Value {
        loop {
            let line = self
                .lines
                .recv_timeout(Duration::from_secs(60))
                .unwrap_or_else(|_| panic!("no `{kind}` line"));
            let v: Value = serde_json::from_str(&line).unwrap();
            if v["type"] == kind {
                return v;
            }
        }
    }
}

#[test]
fn a_killed_monitor_keeps_its_history_and_numbers_on_and_a_corrupt_one_is_set_aside() {
    let state = tempfile::tempdir().unwrap();
    let dir = state.path().to_str().unwrap();
    let port = free_port();
    let mut first = stream_stdin(port, &["--state-dir", dir], &[]);
    first.wait_healthy(port);
    let mut printed = Vec::new();
    for _ in 0..2 {
        first.feed(&vec![0.0; 16_000]);
        first.feed(&tone(6.0));
        printed.push(first.next_line("cry")["seq"].as_u64().unwrap());
        first.feed(&vec![0.0; 10 * 16_000]);
        printed.push(first.next_line("calm")["seq"].as_u64().unwrap());
    }
    assert_eq!(printed, [0, 1, 2, 3], "a new history numbers from 0");
    // SIGKILL, as the OOM killer or a power button would: nothing is closed.
    drop(first);

    let port = free_port();
    let mut second = stream_stdin(port, &["--state-dir", dir], &[]);
    second.wait_healthy(port);
    let events = get(port, "/api/v1/events", Some(TOKEN)).json();
    let stored: Vec<u64> = events["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(stored, printed, "everything printed was stored: {events}");
    second.feed(&vec![0.0; 16_000]);
    second.feed(&tone(6.0));
    assert_eq!(
        second.next_line("cry")["seq"],
        4,
        "seq goes on from the history"
    );
    let (status, stderr) = second.terminate();
    assert!(status.success(), "{stderr}");
    assert!(stderr.contains("the next event is seq 4"), "{stderr}");

    // The file is damaged: the monitor says so, keeps it aside and starts a new history.
    let db = state.path().join("events.sqlite3");
    std::fs::write(&db, b"not a database ".repeat(400)).unwrap();
    let port = free_port();
    let mut third = stream_stdin(port, &["--state-dir", dir], &[]);
    third.wait_healthy(port);
    let events = get(port, "/api/v1/events", Some(TOKEN)).json();
    assert_eq!(events["events"], serde_json::json!([]), "{events}");
    let (status, stderr) = third.terminate();
    assert!(status.success(), "{stderr}");
    assert!(
        stderr.contains("is corrupt") && stderr.contains("set aside as"),
        "{stderr}"
    );
    let aside: Vec<_> = std::fs::read_dir(state.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with("events.sqlite3.corrupt-")
        })
        .collect();
    assert_eq!(aside.len(), 1);
    assert_eq!(
        std::fs::read(aside[0].path()).unwrap(),
        b"not a database ".repeat(400),
        "the damaged file is kept for a look"
    );
}

#[test]
fn a_streamed_cry_shows_in_the_state_the_live_stream_and_the_metrics_and_a_stall_in_healthz() {
    let port = free_port();
    let state_dir = tempfile::tempdir().unwrap();
    let mut run = stream_stdin(
        port,
        &[],
        &[("STATE_DIRECTORY", state_dir.path().to_str().unwrap())],
    );
    run.wait_healthy(port);
    run.feed(&vec![0.0; 3 * 16_000]);
    let rx = live(port, TOKEN);
    let quiet = next_live(&rx, "window", None);
    assert_eq!(quiet["gated"], true);

    run.feed(&tone(8.0));
    let cry = next_live(&rx, "event", Some("cry_started"));
    let state = get(port, "/api/v1/state", Some(TOKEN)).json();
    assert_eq!(state["mode"], "stream");
    assert_eq!(state["crying"], true, "{state}");
    assert_eq!(state["since"], cry["t"]);
    assert!(state["cry_prob"].as_f64().unwrap() > 0.0);
    assert!(state["reason"].is_string());
    // The threshold as given (an f32, written in its shortest form).
    assert_eq!(state["thresholds"]["cry_prob"].as_f64().unwrap(), 1e-6);
    // stdout printed the same cry at the same time.
    let printed = loop {
        let line: Value =
            serde_json::from_str(&run.lines.recv_timeout(Duration::from_secs(30)).unwrap())
                .unwrap();
        if line["type"] == "cry" {
            break line;
        }
    };
    assert_eq!(printed["t"], cry["t"]);
    assert_eq!(printed["seq"], cry["seq"]);

    run.feed(&vec![0.0; 12 * 16_000]);
    let calm = next_live(&rx, "event", Some("calm"));
    assert_eq!(calm["cry_started"], cry["t"]);
    assert_eq!(
        get(port, "/api/v1/state", Some(TOKEN)).json()["crying"],
        false
    );

    // The history has both, numbered as stdout and the live stream numbered them, in the
    // directory systemd names.
    let events = get(port, "/api/v1/events", Some(TOKEN)).json();
    let listed: Vec<(&str, u64)> = events["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["event_type"].as_str().unwrap(),
                e["seq"].as_u64().unwrap(),
            )
        })
        .collect();
    let first = cry["seq"].as_u64().unwrap();
    assert_eq!(
        listed,
        [("cry_started", first), ("calm", first + 1)],
        "{events}"
    );
    assert_eq!(calm["seq"], first + 1);
    assert_eq!(events["last_seq"], first + 1);
    assert!(state_dir.path().join("events.sqlite3").is_file());
    let after = get(port, &format!("/api/v1/events?after={first}"), Some(TOKEN)).json();
    assert_eq!(after["events"].as_array().unwrap().len(), 1, "{after}");
    for (query, says) in [
        ("limit=0", "limit must be from 1"),
        ("after=-3", "after"),
        ("colour=red", "colour"),
    ] {
        let bad = get(port, &format!("/api/v1/events?{query}"), Some(TOKEN));
        assert_eq!(bad.status, 400, "{query}: {}", bad.text());
        assert!(
            bad.json()["error"].as_str().unwrap().contains(says),
            "{query}: {}",
            bad.text()
        );
    }
    let nights = get(port, "/api/v1/nights?last=2", Some(TOKEN)).json();
    assert_eq!(nights["night_hours"], "18-10");
    assert_eq!(nights["nights"].as_array().unwrap().len(), 2, "{nights}");
    assert_eq!(get(port, "/api/v1/nights?last=0", Some(TOKEN)).status, 400);

    // Suspend: at most 120 minutes; the state and the live stream say until when; 0 resumes.
    let post = |body: &str| post_suspend(port, body);
    let too_long = post(r#"{"minutes": 121}"#);
    assert_eq!(too_long.status, 400, "{}", too_long.text());
    assert!(
        too_long.text().contains("from 0 (resume) to 120"),
        "{}",
        too_long.text()
    );
    assert_eq!(post(r#"{"minutes": "ten"}"#).status, 422);
    assert_eq!(post("minutes=10").status, 400, "not JSON");
    let suspended = post(r#"{"minutes": 5}"#);
    assert_eq!(suspended.status, 200, "{}", suspended.text());
    let until = suspended.json()["until"].as_f64().unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    assert!((until - (now + 300.0)).abs() < 30.0, "{until} vs {now}");
    assert_eq!(next_live(&rx, "suspend", None)["until"], until);
    assert_eq!(
        get(port, "/api/v1/state", Some(TOKEN)).json()["suspended_until"],
        until
    );
    assert!(post(r#"{"minutes": 0}"#).json()["until"].is_null());
    assert!(get(port, "/api/v1/state", Some(TOKEN)).json()["suspended_until"].is_null());

    // A client that connects now first gets the recent windows, in stream order.
    let late = live(port, TOKEN);
    let oldest = next_live(&late, "window", None);
    let second = next_live(&late, "window", None);
    assert!(oldest["t"].as_f64().unwrap() < second["t"].as_f64().unwrap());
    assert_eq!(oldest["t"], quiet["t"]);

    let m = get(port, "/metrics", Some(TOKEN)).text();
    assert!(
        m.contains("edge_infer_events_total{event_type=\"cry_started\"} 1"),
        "{m}"
    );
    assert!(
        m.contains("edge_infer_events_total{event_type=\"calm\"} 1"),
        "{m}"
    );
    assert!(m.contains("edge_infer_sse_clients 2"), "{m}");
    let windows: f64 = m
        .lines()
        .find_map(|l| l.strip_prefix("edge_infer_windows_total "))
        .unwrap()
        .parse()
        .unwrap();
    assert!(windows >= 10.0, "{m}");

    // The input pauses: after 10 s without a window /healthz says so; audio again heals it.
    let stalled_since = Instant::now();
    let health = loop {
        let h = get(port, "/healthz", None);
        if h.status == 503 || stalled_since.elapsed() > Duration::from_secs(30) {
            break h;
        }
        std::thread::sleep(Duration::from_millis(250));
    };
    assert_eq!(health.status, 503, "{}", health.text());
    assert!(
        health.json()["reason"]
            .as_str()
            .unwrap()
            .contains("no audio window")
    );
    run.feed(&vec![0.0; 3 * 16_000]);
    let deadline = Instant::now() + Duration::from_secs(20);
    while get(port, "/healthz", None).status != 200 {
        assert!(Instant::now() < deadline, "/healthz did not recover");
        std::thread::sleep(Duration::from_millis(100));
    }

    // The suspension and its end are events, numbered after the calm (recorded by the loop
    // when audio came again), on the live stream and in the history; the nights ignore them.
    let suspended = next_live(&rx, "event", Some("alerts_suspended"));
    assert_eq!(
        (
            &suspended["seq"],
            &suspended["minutes"],
            &suspended["until"]
        ),
        (&json!(first + 2), &json!(5), &json!(until))
    );
    let resumed = next_live(&rx, "event", Some("alerts_resumed"));
    assert_eq!(
        (&resumed["seq"], &resumed["expired"]),
        (&json!(first + 3), &json!(false))
    );
    let later = get(
        port,
        &format!("/api/v1/events?after={}", first + 1),
        Some(TOKEN),
    )
    .json();
    let types: Vec<&str> = later["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event_type"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["alerts_suspended", "alerts_resumed"], "{later}");

    let (status, stderr) = run.terminate();
    assert!(status.success(), "exit {status}: {stderr}");
    assert!(!stderr.contains(TOKEN), "the token was logged:\n{stderr}");
}

/// A Prometheus counter or gauge of `/metrics` (0 when not yet reported).
fn metric(port: u16, name: &str) -> f64 {
    let text = get(port, "/metrics", Some(TOKEN)).text();
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or(0.0)
}

#[test]
fn a_live_client_that_never_reads_is_dropped_and_counted_while_the_stream_goes_on() {
    let port = free_port();
    // A 50 ms hop: twenty quiet windows (gated, so no inference) per second of audio.
    let mut run = stream_stdin(port, &["--hop", "0.05"], &[]);
    run.wait_healthy(port);
    // The model's window is 3 s: four seconds make the first windows.
    run.feed(&vec![0.0; 4 * 16_000]);
    let reader = live(port, TOKEN);
    next_live(&reader, "window", None);
    // The stuck client asks for the stream and never reads a byte of it.
    let mut stuck = TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        stuck,
        "GET /api/v1/live HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {TOKEN}\r\n\r\n"
    )
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while metric(port, "edge_infer_sse_clients") < 2.0 {
        assert!(
            Instant::now() < deadline,
            "the stuck client never connected"
        );
        std::thread::sleep(Duration::from_millis(50));
    }

    // Three minutes of audio: 3,600 windows, more than the stuck client's queue and the
    // kernel's buffers between us hold. The stream goes on, and the reader (fed ten seconds at
    // a time, so that it never falls behind itself) gets every window.
    let started = Instant::now();
    let mut last_t = 0.0;
    let mut windows = 0;
    for tens in 1..=18 {
        run.feed(&vec![0.0; 10 * 16_000]);
        // Up to the last block of 4,096 samples stdin is read in.
        while last_t < f64::from(4 + tens * 10) - 0.3 {
            last_t = next_live(&reader, "window", None)["t"].as_f64().unwrap();
            windows += 1;
        }
    }
    assert!(windows >= 3600, "{windows} windows reached the reader");
    let took = started.elapsed();
    assert_eq!(
        metric(port, "edge_infer_sse_dropped_clients_total"),
        1.0,
        "the stuck client was dropped and counted"
    );
    let state = get(port, "/api/v1/state", Some(TOKEN)).json();
    assert_eq!(state["dropped_samples"], 0, "{state}");
    assert!(state["windows"].as_u64().unwrap() >= 3600, "{state}");
    // Its connection, shut by its zero window, is closed by the kernel after 20 s
    // (TCP_USER_TIMEOUT), which ends its stream on the server.
    let deadline = Instant::now() + Duration::from_secs(60);
    while metric(port, "edge_infer_sse_clients") > 1.0 {
        assert!(
            Instant::now() < deadline,
            "the stuck client's connection is still open"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    stuck
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut rest = Vec::new();
    let read = stuck.read_to_end(&mut rest);
    assert!(
        !matches!(&read, Err(e) if e.kind() == std::io::ErrorKind::WouldBlock || e.kind() == std::io::ErrorKind::TimedOut),
        "the connection is closed: {read:?}"
    );
    let (status, stderr) = run.terminate();
    assert!(status.success(), "exit {status}: {stderr}");
    assert!(
        stderr.contains("dropped a live client: its queue is full"),
        "{stderr}"
    );
    eprintln!("3 min of audio with a stuck client: {took:?}");
}

/// Debian's chromium and its WebDriver, as `cargo xtask test` installs them.
const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// chromedriver on a loopback port, in a process group of its own so that the browser it
/// starts goes with it when the guard drops.
struct Browser {
    driver: Child,
    port: u16,
    session: String,
}

impl Browser {
    fn start() -> Self {
        use std::os::unix::process::CommandExt;
        for program in [CHROMIUM, CHROMEDRIVER] {
            assert!(
                Path::new(program).is_file(),
                "{program} is missing: install Debian's chromium and chromium-driver (`cargo xtask test` does)"
            );
        }
        let port = free_port();
        let driver = std::process::Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .process_group(0)
            .spawn()
            .expect("chromedriver starts");
        let mut browser = Self {
            driver,
            port,
            session: String::new(),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while !(TcpStream::connect(("127.0.0.1", port)).is_ok()
            && get(port, "/status", None).json()["value"]["ready"] == true)
        {
            assert!(Instant::now() < deadline, "chromedriver did not get ready");
            std::thread::sleep(Duration::from_millis(100));
        }
        // Headless, and without the sandbox, which cannot run as root.
        let caps = serde_json::json!({"capabilities": {"alwaysMatch": {
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                         "--disable-dev-shm-usage", "--window-size=430,1000"]
            }
        }}});
        let res = browser.post("/session", &caps);
        browser.session = res["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no WebDriver session: {res}"))
            .to_string();
        browser
    }

    fn post(&self, path: &str, body: &Value) -> Value {
        let body = body.to_string();
        let res = request(
            self.port,
            "POST",
            path,
            None,
            &[("Content-Type", "application/json")],
            body.as_bytes(),
        );
        assert_eq!(res.status, 200, "WebDriver {path}: {}", res.text());
        res.json()
    }

    fn open(&self, url: &str) {
        self.post(
            &format!("/session/{}/url", self.session),
            &serde_json::json!({ "url": url }),
        );
    }

    /// Runs `script` in the page; its return value.
    fn run(&self, script: &str, args: Value) -> Value {
        self.post(
            &format!("/session/{}/execute/sync", self.session),
            &serde_json::json!({ "script": script, "args": args }),
        )["value"]
            .clone()
    }

    /// Waits (at most 60 s) until `script` returns `want`.
    fn wait_for(&self, script: &str, want: &Value, what: &str) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let got = self.run(script, serde_json::json!([]));
            if &got == want {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{what}: still {got} (want {want}); the page says: {}",
                self.run("return document.body.innerText", serde_json::json!([]))
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// A PNG screenshot of the viewport.
    fn screenshot(&self) -> Vec<u8> {
        let res = get(
            self.port,
            &format!("/session/{}/screenshot", self.session),
            None,
        );
        assert_eq!(res.status, 200, "{}", res.text());
        base64_decode(res.json()["value"].as_str().unwrap())
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // Ending the session quits the browser (it leaves chromedriver's process group).
        if !self.session.is_empty() {
            let _ = std::panic::catch_unwind(|| {
                request(
                    self.port,
                    "DELETE",
                    &format!("/session/{}", self.session),
                    None,
                    &[],
                    b"",
                )
            });
        }
        // The whole group: chromedriver and the browser it started.
        let _ = std::process::Command::new("kill")
            .args(["-s", "KILL", "--", &format!("-{}", self.driver.id())])
            .status();
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

fn base64_decode(text: &str) -> Vec<u8> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0);
    for c in text
        .bytes()
        .filter(|c| *c != b'=' && !c.is_ascii_whitespace())
    {
        let v = ALPHABET.iter().position(|a| *a == c).expect("base64") as u32;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    out
}

#[test]
fn the_page_in_a_real_browser_signs_in_shows_a_cry_and_calm_and_alarms_when_the_link_drops() {
    let port = free_port();
    let mut run = stream_stdin(port, &[], &[]);
    run.wait_healthy(port);
    run.feed(&vec![0.0; 3 * 16_000]);
    let browser = Browser::start();
    let page = format!("http://127.0.0.1:{port}/");

    // The token is configured: the page is the login form until the browser holds the cookie.
    browser.open(&page);
    browser.wait_for(
        "return document.getElementById('token') !== null",
        &Value::Bool(true),
        "the login form",
    );
    browser.run(
        "document.getElementById('token').value = arguments[0]; document.querySelector('form').submit();",
        serde_json::json!(["a-wrong-token-of-32-bytes-01234567"]),
    );
    browser.wait_for(
        "return (document.getElementById('login-error') || {}).textContent",
        &Value::from("Wrong token."),
        "a wrong token refused",
    );
    browser.run(
        "document.getElementById('token').value = arguments[0]; document.querySelector('form').submit();",
        serde_json::json!([TOKEN]),
    );
    let state = "return (document.getElementById('banner') || {dataset: {}}).dataset.state || null";
    browser.wait_for(state, &Value::from("calm"), "the page, calm");
    let cookie = browser.run("return document.cookie", serde_json::json!([]));
    assert_eq!(
        cookie,
        Value::from(""),
        "the cookie is HttpOnly: the page's script cannot read it"
    );

    run.feed(&tone(8.0));
    let cry = run.next_line("cry");
    browser.wait_for(state, &Value::from("crying"), "the banner turns to crying");
    browser.wait_for(
        "return document.querySelectorAll('#events li[data-type=cry_started]').length",
        &Value::from(1),
        "the cry in the event list",
    );
    let seq = browser.run(
        "return Number(document.querySelector('#events li[data-type=cry_started]').dataset.seq)",
        serde_json::json!([]),
    );
    assert_eq!(seq, cry["seq"], "the list shows the printed event");
    browser.wait_for(
        "return Number(document.getElementById('chart').dataset.points) > 5",
        &Value::Bool(true),
        "the chart has points",
    );
    let shot = browser.screenshot();
    assert_eq!(&shot[..8], b"\x89PNG\r\n\x1a\n", "a PNG screenshot");
    if let Some(path) = std::env::var_os("EDGE_INFER_PAGE_SCREENSHOT") {
        std::fs::write(path, &shot).unwrap();
    }

    run.feed(&vec![0.0; 12 * 16_000]);
    browser.wait_for(state, &Value::from("calm"), "the banner back to calm");

    // Suspending alerts from the page reaches the API's state.
    browser.run(
        "document.getElementById('suspend').click()",
        serde_json::json!([]),
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    while get(port, "/api/v1/state", Some(TOKEN)).json()["suspended_until"].is_null() {
        assert!(
            Instant::now() < deadline,
            "the page's suspend did not reach the API"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // Recorded by the loop once audio flows: the suspension is in the page's event list.
    run.feed(&vec![0.0; 2 * 16_000]);
    browser.wait_for(
        "return !!document.querySelector('#events li[data-type=alerts_suspended]')",
        &Value::Bool(true),
        "the suspension in the event list",
    );
    let listed = browser.run(
        "return document.querySelector('#events li[data-type=alerts_suspended]').textContent",
        serde_json::json!([]),
    );
    assert!(
        listed
            .as_str()
            .unwrap()
            .ends_with("alerts suspended for 30 min"),
        "{listed}"
    );
    if let Some(path) = std::env::var_os("EDGE_INFER_PAGE_SCREENSHOT_SUSPENDED") {
        std::fs::write(path, browser.screenshot()).unwrap();
    }

    // The monitor dies: the page raises the link alarm.
    drop(run);
    browser.wait_for(
        "return document.getElementById('link').dataset.state",
        &Value::from("lost"),
        "the link alarm",
    );
}

/// One request a webhook receiver got.
#[derive(Debug, Clone)]
struct Hook {
    path: String,
    headers: Vec<(String, String)>,
    body: Value,
}

/// A webhook receiver on loopback: it answers `status(n)` to its n-th request (from 0) and
/// keeps every request, and those it answered 2xx apart.
struct Receiver2 {
    port: u16,
    got: std::sync::Arc<std::sync::Mutex<(Vec<Hook>, Vec<Hook>)>>,
}

impl Receiver2 {
    fn start(status: impl Fn(usize) -> u16 + Send + 'static) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let got = std::sync::Arc::new(std::sync::Mutex::new((Vec::new(), Vec::new())));
        let keep = got.clone();
        std::thread::spawn(move || {
            for (n, stream) in listener.incoming().enumerate() {
                let Ok(stream) = stream else { return };
                let mut r = BufReader::new(stream.try_clone().unwrap());
                let mut line = String::new();
                if r.read_line(&mut line).is_err() {
                    continue;
                }
                let path = line.split_whitespace().nth(1).unwrap_or("").to_string();
                let mut headers = Vec::new();
                loop {
                    let mut h = String::new();
                    r.read_line(&mut h).unwrap();
                    let h = h.trim_end();
                    if h.is_empty() {
                        break;
                    }
                    let (k, v) = h.split_once(':').unwrap();
                    headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
                }
                let length: usize = headers
                    .iter()
                    .find(|(k, _)| k == "content-length")
                    .map_or(0, |(_, v)| v.parse().unwrap());
                let mut body = vec![0; length];
                r.read_exact(&mut body).unwrap();
                let hook = Hook {
                    path,
                    headers,
                    body: serde_json::from_slice(&body).unwrap_or(Value::Null),
                };
                let code = status(n);
                {
                    let mut got = keep.lock().unwrap();
                    got.0.push(hook.clone());
                    if (200..300).contains(&code) {
                        got.1.push(hook);
                    }
                }
                let mut s = stream;
                let _ = write!(
                    s,
                    "HTTP/1.1 {code} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                );
            }
        });
        Self { port, got }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// The `seq`s of the events it accepted, in arrival order.
    fn accepted(&self) -> Vec<u64> {
        let got = self.got.lock().unwrap();
        got.1
            .iter()
            .map(|h| h.body["seq"].as_u64().unwrap())
            .collect()
    }

    /// Waits (at most 60 s) until it accepted `n` events.
    fn wait_accepted(&self, n: usize) -> Vec<u64> {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let accepted = self.accepted();
            if accepted.len() >= n {
                return accepted;
            }
            assert!(Instant::now() < deadline, "accepted only {accepted:?}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

#[test]
fn webhooks_get_every_event_once_in_order_through_refusals_skip_a_4xx_and_respect_suspend() {
    // The first three requests are refused with 503 (a receiver restarting): retried.
    let flaky = Receiver2::start(|n| if n < 3 { 503 } else { 200 });
    // A URL that does not exist: 404 is permanent, skipped, and holds nothing back.
    let gone = Receiver2::start(|_| 404);
    let secret = "Authorization: Bearer hook-secret-0123456789";
    let port = free_port();
    let (hook, missing) = (flaky.url("/hook"), gone.url("/gone"));
    let mut run = stream_stdin(
        port,
        &["--webhook", &hook, "--webhook", &missing],
        &[("EDGE_INFER_WEBHOOK_HEADER", secret)],
    );
    run.wait_healthy(port);
    let mut printed = Vec::new();
    let cycle = |run: &mut Running, printed: &mut Vec<u64>| {
        run.feed(&vec![0.0; 16_000]);
        run.feed(&tone(6.0));
        printed.push(run.next_line("cry")["seq"].as_u64().unwrap());
        run.feed(&vec![0.0; 10 * 16_000]);
        printed.push(run.next_line("calm")["seq"].as_u64().unwrap());
    };
    cycle(&mut run, &mut printed);
    cycle(&mut run, &mut printed);
    assert_eq!(
        flaky.wait_accepted(4),
        printed,
        "every event once, in order"
    );

    // Suspended: stdout goes on, the webhook hears nothing; resumed, it hears again.
    let suspend = |minutes: &str| {
        let res = post_suspend(port, &format!(r#"{{"minutes": {minutes}}}"#));
        assert_eq!(res.status, 200, "{}", res.text());
    };
    suspend("10");
    cycle(&mut run, &mut printed);
    suspend("0");
    cycle(&mut run, &mut printed);
    let accepted = flaky.wait_accepted(6);
    assert_eq!(
        accepted,
        [&printed[..4], &printed[6..]].concat(),
        "nothing while suspended"
    );
    // /metrics has each sink's counts, named by position, never by URL.
    let deadline = Instant::now() + Duration::from_secs(60);
    let metrics = loop {
        run.feed(&vec![0.0; 16_000]);
        let m = get(port, "/metrics", Some(TOKEN)).text();
        if m.contains("edge_infer_alerts_refused{sink=\"webhook2\"} 6") {
            break m;
        }
        assert!(Instant::now() < deadline, "{m}");
        std::thread::sleep(Duration::from_millis(200));
    };
    for line in [
        "edge_infer_alerts_delivered{sink=\"webhook1\"} 6",
        "edge_infer_alerts_queued{sink=\"webhook1\"} 0",
        "edge_infer_alerts_delivered{sink=\"webhook2\"} 0",
    ] {
        assert!(metrics.contains(line), "{line}:\n{metrics}");
    }
    assert!(!metrics.contains("127.0.0.1"), "{metrics}");

    let (status, stderr) = run.terminate();
    assert!(status.success(), "{stderr}");
    let got = flaky.got.lock().unwrap();
    assert_eq!(got.0.len(), 3 + 6, "three refusals retried, six deliveries");
    for h in &got.0 {
        assert_eq!(h.path, "/hook");
        assert!(
            h.headers.contains(&(
                "authorization".into(),
                "Bearer hook-secret-0123456789".into()
            )),
            "{h:?}"
        );
        assert!(
            h.body["event_type"].is_string() && h.body["unix_time"].is_number(),
            "{h:?}"
        );
    }
    assert_eq!(
        gone.got.lock().unwrap().0.len(),
        6,
        "each event tried once at the 404"
    );
    assert!(
        stderr.contains("refused with HTTP 404: skipped"),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("webhook {missing}: 0 events delivered, 6 refused")),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!(
            "webhook {hook}: 6 events delivered, 0 refused, 0 undelivered"
        )),
        "{stderr}"
    );
    assert!(
        !stderr.contains("hook-secret"),
        "the header was logged:\n{stderr}"
    );
}

/// One request over TLS, trusting `ca_pem`; the whole response as text, or the TLS error.
fn https(port: u16, ca_pem: &str, head: &str) -> Result<String, String> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots.add(cert.unwrap()).unwrap();
    }
    #[allow(deprecated)]
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let name = rustls::pki_types::ServerName::try_from("127.0.0.1").unwrap();
    let conn = rustls::ClientConnection::new(std::sync::Arc::new(config), name).unwrap();
    let tcp = TcpStream::connect(("127.0.0.1", port)).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut tls = rustls::StreamOwned::new(conn, tcp);
    tls.write_all(head.as_bytes()).map_err(|e| e.to_string())?;
    let mut text = String::new();
    match tls.read_to_string(&mut text) {
        Ok(_) => Ok(text),
        // A server that closes without close_notify after a complete response.
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof && !text.is_empty() => Ok(text),
        Err(e) => Err(e.to_string()),
    }
}

#[test]
fn https_serves_the_api_and_the_page_with_a_secure_cookie_and_refuses_plain_text() {
    let dir = tempfile::tempdir().unwrap();
    let (ca, cert, key) = common::certificates("127.0.0.1");
    let (cert_file, key_file) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert_file, cert).unwrap();
    std::fs::write(&key_file, &key).unwrap();
    let port = free_port();
    let (c, k) = (cert_file.to_str().unwrap(), key_file.to_str().unwrap());
    let run = stream_stdin(port, &["--http-tls-cert", c, "--http-tls-key", k], &[]);
    let deadline = Instant::now() + Duration::from_secs(60);
    let health = loop {
        if TcpStream::connect(("127.0.0.1", port)).is_ok()
            && let Ok(text) = https(
                port,
                &ca,
                "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
            )
        {
            break text;
        }
        assert!(Instant::now() < deadline, "no https on {port}");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
    let state = https(
        port,
        &ca,
        &format!(
            "GET /api/v1/state HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {TOKEN}\r\nConnection: close\r\n\r\n"
        ),
    )
    .unwrap();
    assert!(
        state.starts_with("HTTP/1.1 200") && state.contains("\"mode\":\"stream\""),
        "{state}"
    );
    let form = format!("token={TOKEN}");
    let login = https(
        port,
        &ca,
        &format!(
            "POST /login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{form}",
            form.len()
        ),
    )
    .unwrap();
    assert!(login.starts_with("HTTP/1.1 303"), "{login}");
    let cookie = login
        .lines()
        .find(|l| l.to_ascii_lowercase().starts_with("set-cookie:"))
        .unwrap_or_else(|| panic!("no cookie: {login}"));
    for part in ["HttpOnly", "SameSite=Strict", "Secure"] {
        assert!(cookie.contains(part), "{cookie}");
    }

    // A client that does not trust the certificate, and one that speaks plain HTTP.
    let (other_ca, _, _) = common::certificates("127.0.0.1");
    let refused = https(
        port,
        &other_ca,
        "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
    );
    assert!(refused.is_err(), "{refused:?}");
    let mut plain = TcpStream::connect(("127.0.0.1", port)).unwrap();
    plain
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    plain
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut answer = Vec::new();
    let _ = plain.read_to_end(&mut answer);
    assert!(!answer.starts_with(b"HTTP/1.1 200"), "plain text answered");
    // The server is still there for the next client.
    assert!(
        https(
            port,
            &ca,
            "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
        )
        .unwrap()
        .starts_with("HTTP/1.1 200")
    );
    let (status, stderr) = run.terminate();
    assert!(status.success(), "{stderr}");
    assert!(
        stderr.contains(&format!("HTTP API on https://127.0.0.1:{port}/")),
        "{stderr}"
    );

    // A key that is not a key: refused at start, naming the file.
    std::fs::write(&key_file, "not a key").unwrap();
    let model = tiny_model("fp32");
    let addr = format!("127.0.0.1:{}", free_port());
    let serve = |tls: &[&str]| {
        let mut args = vec!["serve", "--model", model.to_str().unwrap(), "--http", &addr];
        args.extend(tls);
        edge(&args)
    };
    let err = failed_with(serve(&["--http-tls-cert", c, "--http-tls-key", k]), 2);
    assert!(err.contains("key.pem"), "{err}");
    let out = serve(&["--http-tls-cert", c]);
    assert!(failed_with(out, 2).contains("go together"));
}
