//! A small HTTP/1.1 client for servers xtask starts on loopback (Home Assistant's REST API in
//! the real-HA test, the monitor's API in the image test): one request per connection with `Connection: close`, the answer's body
//! read by its length, by chunks, or to the end. No TLS.
//!
//! xtask has no dependencies (see its Cargo.toml), so it speaks the protocol itself.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::time::Duration;

/// How long a request may take to connect, and to answer.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const READ_TIMEOUT: Duration = Duration::from_secs(60);

/// A loopback port free now, for a server a task starts.
pub fn free_port() -> Result<u16, String> {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("no free loopback port: {e}"))
}

/// A request's body and its content type.
pub struct Body<'a> {
    pub content_type: &'a str,
    pub text: &'a str,
}

/// An answer: the status code and the body as text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub body: String,
}

/// `METHOD path` to `127.0.0.1:port`, with `Authorization: Bearer TOKEN` when a token is
/// given. The error says what failed, never what was sent (a body or a token may be secret).
pub fn request(
    port: u16,
    method: &str,
    path: &str,
    bearer: Option<&str>,
    body: Option<Body>,
) -> Result<Response, String> {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let what = format!("{method} http://{addr}{path}");
    let mut stream = TcpStream::connect_timeout(&addr, CONNECT_TIMEOUT)
        .map_err(|e| format!("{what}: cannot connect: {e}"))?;
    stream
        .set_read_timeout(Some(READ_TIMEOUT))
        .map_err(|e| format!("{what}: {e}"))?;
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nAccept: application/json\r\n"
    );
    if let Some(token) = bearer {
        head.push_str(&format!("Authorization: Bearer {token}\r\n"));
    }
    let text = match &body {
        Some(b) => {
            head.push_str(&format!(
                "Content-Type: {}\r\nContent-Length: {}\r\n",
                b.content_type,
                b.text.len()
            ));
            b.text
        }
        None => "",
    };
    head.push_str("\r\n");
    stream
        .write_all(head.as_bytes())
        .and_then(|()| stream.write_all(text.as_bytes()))
        .map_err(|e| format!("{what}: cannot send: {e}"))?;
    let mut answer = Vec::new();
    stream
        .read_to_end(&mut answer)
        .map_err(|e| format!("{what}: no answer: {e}"))?;
    parse_response(&answer).map_err(|e| format!("{what}: {e}"))
}

/// Reads an HTTP/1.1 answer: status line, headers, and the body by `Content-Length`, by
/// `Transfer-Encoding: chunked`, or to the end.
pub fn parse_response(bytes: &[u8]) -> Result<Response, String> {
    let split = bytes
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or("the answer has no end of headers")?;
    let head = std::str::from_utf8(&bytes[..split]).map_err(|_| "headers are not UTF-8")?;
    let rest = &bytes[split + 4..];
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .strip_prefix("HTTP/1.")
        .and_then(|s| s.get(2..5))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("not an HTTP status line: {status_line:?}"))?;
    let header = |name: &str| {
        head.split("\r\n").skip(1).find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
        })
    };
    let body = if header("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        dechunk(rest)?
    } else if let Some(len) = header("content-length") {
        let len: usize = len.parse().map_err(|_| format!("Content-Length {len:?}"))?;
        rest.get(..len)
            .ok_or_else(|| format!("the body ends after {} of {len} bytes", rest.len()))?
            .to_vec()
    } else {
        rest.to_vec()
    };
    let body = String::from_utf8(body).map_err(|_| "the body is not UTF-8")?;
    Ok(Response { status, body })
}

fn dechunk(mut rest: &[u8]) -> Result<Vec<u8>, String> {
    let mut body = Vec::new();
    loop {
        let eol = rest
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or("a chunk without its size line")?;
        let size_line = std::str::from_utf8(&rest[..eol]).map_err(|_| "a bad chunk size")?;
        let size_hex = size_line.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_hex, 16)
            .map_err(|_| format!("a bad chunk size {size_line:?}"))?;
        rest = &rest[eol + 2..];
        if size == 0 {
            return Ok(body);
        }
        let chunk = rest.get(..size).ok_or("a chunk cut short")?;
        body.extend_from_slice(chunk);
        rest = rest
            .get(size + 2..)
            .ok_or("a chunk without its end of line")?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_body_by_its_length() {
        let r = parse_response(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\ncontent-length: 7\r\n\r\n{\"a\":1}",
        )
        .unwrap();
        assert_eq!(r.status, 200);
        assert_eq!(r.body, "{\"a\":1}");
        let short = parse_response(b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n{}");
        assert!(short.unwrap_err().contains("after 2 of 9"));
    }

    #[test]
    fn reads_a_chunked_body_and_one_without_a_length() {
        let r = parse_response(
            b"HTTP/1.1 401 Unauthorized\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nWiki\r\n5;x=y\r\npedia\r\n0\r\n\r\n",
        )
        .unwrap();
        assert_eq!(
            r,
            Response {
                status: 401,
                body: "Wikipedia".into()
            }
        );
        let r = parse_response(b"HTTP/1.0 404 Not Found\r\nServer: x\r\n\r\nnot here").unwrap();
        assert_eq!((r.status, r.body.as_str()), (404, "not here"));
    }

    #[test]
    fn refuses_what_is_not_http() {
        for bad in [
            &b""[..],
            b"SSH-2.0-OpenSSH\r\n\r\n",
            b"HTTP/1.1 200 OK\r\n",
            b"HTTP/1.1 2x0 OK\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        ] {
            assert!(parse_response(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn talks_to_a_server_on_loopback() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            let mut seen = Vec::new();
            let mut buf = [0; 1024];
            while !seen.ends_with(b"{\"x\":1}") {
                let n = s.read(&mut buf).unwrap();
                seen.extend_from_slice(&buf[..n]);
            }
            s.write_all(b"HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok")
                .unwrap();
            String::from_utf8(seen).unwrap()
        });
        let r = request(
            port,
            "POST",
            "/api/x",
            Some("secret"),
            Some(Body {
                content_type: "application/json",
                text: "{\"x\":1}",
            }),
        )
        .unwrap();
        assert_eq!((r.status, r.body.as_str()), (201, "ok"));
        let sent = server.join().unwrap();
        assert!(sent.starts_with("POST /api/x HTTP/1.1\r\n"), "{sent}");
        assert!(sent.contains("Authorization: Bearer secret\r\n"), "{sent}");
        assert!(sent.contains("Content-Length: 7\r\n"), "{sent}");
        let refused = request(port, "GET", "/", Some("secret"), None).unwrap_err();
        assert!(!refused.contains("secret"), "{refused}");
    }
}
