//! Enough MQTT 3.1.1 to publish retained messages to a broker on loopback and know the broker
//! took them: CONNECT, PUBLISH at QoS 1 answered by PUBACK, DISCONNECT. The real-HA test uses
//! it to empty retained messages (an empty retained payload deletes one).
//!
//! xtask has no dependencies (see its Cargo.toml), so it speaks the protocol itself.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::time::Duration;

const TIMEOUT: Duration = Duration::from_secs(10);

/// Publishes each `(topic, payload)` retained at QoS 1 to the broker on `127.0.0.1:port`, one
/// after the other, each acknowledged before the next.
pub fn publish_retained(
    port: u16,
    client_id: &str,
    messages: &[(&str, &[u8])],
) -> Result<(), String> {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let fail = |what: &str, e: std::io::Error| format!("MQTT to {addr}: {what}: {e}");
    let mut s = TcpStream::connect_timeout(&addr, TIMEOUT).map_err(|e| fail("connect", e))?;
    s.set_read_timeout(Some(TIMEOUT))
        .map_err(|e| fail("set a timeout", e))?;
    s.write_all(&connect(client_id))
        .map_err(|e| fail("CONNECT", e))?;
    match read_packet(&mut s).map_err(|e| fail("CONNACK", e))? {
        (0x20, body) if body.len() == 2 && body[1] == 0 => {}
        (kind, body) => {
            return Err(format!(
                "MQTT to {addr}: the broker refused the connection (packet {kind:#04x}, {body:?})"
            ));
        }
    }
    for (id, (topic, payload)) in (1u16..).zip(messages) {
        s.write_all(&publish_retained_qos1(topic, payload, id))
            .map_err(|e| fail("PUBLISH", e))?;
        let (kind, body) = read_packet(&mut s).map_err(|e| fail("PUBACK", e))?;
        if kind != 0x40 || body != id.to_be_bytes() {
            return Err(format!(
                "MQTT to {addr}: `{topic}` was not acknowledged (packet {kind:#04x}, {body:?})"
            ));
        }
    }
    s.write_all(&[0xE0, 0]).map_err(|e| fail("DISCONNECT", e))
}

/// MQTT's variable-length "remaining length".
fn remaining_length(mut n: usize) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let mut byte = (n % 128) as u8;
        n /= 128;
        if n > 0 {
            byte |= 0x80;
        }
        out.push(byte);
        if n == 0 {
            return out;
        }
    }
}

/// A length-prefixed string.
fn utf8(s: &str) -> Vec<u8> {
    let mut out = (s.len() as u16).to_be_bytes().to_vec();
    out.extend_from_slice(s.as_bytes());
    out
}

fn packet(first: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![first];
    out.extend(remaining_length(body.len()));
    out.extend_from_slice(body);
    out
}

/// CONNECT, MQTT 3.1.1, a clean session, 60 s keep-alive.
fn connect(client_id: &str) -> Vec<u8> {
    let mut body = utf8("MQTT");
    body.extend([4, 0x02, 0, 60]);
    body.extend(utf8(client_id));
    packet(0x10, &body)
}

/// PUBLISH with QoS 1 and the retain flag.
fn publish_retained_qos1(topic: &str, payload: &[u8], id: u16) -> Vec<u8> {
    let mut body = utf8(topic);
    body.extend(id.to_be_bytes());
    body.extend_from_slice(payload);
    packet(0x30 | 0x02 | 0x01, &body)
}

/// One packet: its first byte and its body.
fn read_packet(s: &mut impl Read) -> std::io::Result<(u8, Vec<u8>)> {
    let mut byte = [0u8; 1];
    s.read_exact(&mut byte)?;
    let first = byte[0];
    let (mut len, mut shift) = (0usize, 0);
    loop {
        s.read_exact(&mut byte)?;
        len |= usize::from(byte[0] & 0x7F) << shift;
        if byte[0] & 0x80 == 0 {
            break;
        }
        shift += 7;
        if shift > 21 {
            return Err(std::io::Error::other("a remaining length over 4 bytes"));
        }
    }
    let mut body = vec![0; len];
    s.read_exact(&mut body)?;
    Ok((first, body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remaining_lengths_are_encoded_as_the_specification_shows() {
        for (n, bytes) in [
            (0, &[0x00][..]),
            (127, &[0x7F]),
            (128, &[0x80, 0x01]),
            (16_383, &[0xFF, 0x7F]),
            (16_384, &[0x80, 0x80, 0x01]),
            (2_097_152, &[0x80, 0x80, 0x80, 0x01]),
        ] {
            assert_eq!(remaining_length(n), bytes, "{n}");
            let mut framed = vec![0x30];
            framed.extend(bytes);
            framed.extend(vec![7; n]);
            let (first, body) = read_packet(&mut framed.as_slice()).unwrap();
            assert_eq!((first, body.len()), (0x30, n));
        }
    }

    #[test]
    fn packets_are_laid_out_byte_for_byte() {
        assert_eq!(
            connect("ab"),
            [
                0x10, 14, 0, 4, b'M', b'Q', b'T', b'T', 4, 0x02, 0, 60, 0, 2, b'a', b'b'
            ]
        );
        assert_eq!(
            publish_retained_qos1("a/b", b"", 0x0102),
            [0x33, 7, 0, 3, b'a', b'/', b'b', 1, 2]
        );
        assert_eq!(
            publish_retained_qos1("t", b"on", 1),
            [0x33, 7, 0, 1, b't', 0, 1, b'o', b'n']
        );
    }

    #[test]
    fn a_broker_that_does_not_acknowledge_is_an_error() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let broker = std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            let (kind, _) = read_packet(&mut s).unwrap();
            assert_eq!(kind, 0x10);
            s.write_all(&[0x20, 2, 0, 0]).unwrap();
            let (kind, body) = read_packet(&mut s).unwrap();
            assert_eq!(kind, 0x33);
            // A PUBACK for another packet id.
            s.write_all(&[0x40, 2, 0, 9]).unwrap();
            body
        });
        let e = publish_retained(port, "t", &[("x/config", b"")]).unwrap_err();
        assert!(e.contains("`x/config` was not acknowledged"), "{e}");
        assert_eq!(
            broker.join().unwrap(),
            [0, 8, b'x', b'/', b'c', b'o', b'n', b'f', b'i', b'g', 0, 1]
        );
    }
}
