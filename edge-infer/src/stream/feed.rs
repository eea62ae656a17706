//! Feeds a file or stdin into a ring, so that it reaches the detector exactly as microphone
//! audio does.

use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::ring::{RingSource, RingWriter, ring};
use super::source::{AudioSource, Read};

/// How a feeder paces its input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pace {
    /// Like a live device: one chunk every chunk duration; what the ring cannot take is dropped
    /// and counted, as for a microphone.
    Realtime,
    /// As fast as the detector consumes: waits for room, loses nothing.
    FullSpeed,
}

/// Frames per chunk a feeder pushes: 10 ms at 16 kHz, a typical device period.
const CHUNK_FRAMES: usize = 160;

/// Starts a thread that reads `source` and pushes it into a new ring of `ring_seconds`;
/// returns the ring's reading end and the thread.
pub fn spawn_feeder<S: AudioSource + Send + 'static>(
    source: S,
    pace: Pace,
    ring_seconds: f32,
) -> (RingSource, JoinHandle<()>) {
    let format = source.format();
    let capacity = (ring_seconds.max(0.01) * format.sample_rate as f32).ceil() as usize;
    let (writer, reader) = ring(format, capacity);
    let thread = std::thread::Builder::new()
        .name("feeder".into())
        .spawn(move || feed(source, writer, pace))
        .expect("spawning the feeder thread");
    (reader, thread)
}

fn feed<S: AudioSource>(mut source: S, mut writer: RingWriter, pace: Pace) {
    let format = source.format();
    let channels = usize::from(format.channels.max(1));
    let chunk_frames = (CHUNK_FRAMES * format.sample_rate as usize / 16_000).max(1);
    let mut chunk = vec![0.0f32; chunk_frames * channels];
    let started = Instant::now();
    let mut frames_sent = 0u64;
    loop {
        let n = match source.read(&mut chunk) {
            Ok(Read::Samples(n)) => n,
            Ok(Read::Pending) => continue,
            Ok(Read::End) => break,
            Err(e) => {
                writer.finish(Some(e));
                return;
            }
        };
        match pace {
            Pace::Realtime => {
                frames_sent += (n / channels) as u64;
                let due =
                    Duration::from_secs_f64(frames_sent as f64 / f64::from(format.sample_rate));
                if let Some(wait) = due.checked_sub(started.elapsed()) {
                    std::thread::sleep(wait);
                }
                writer.push_or_drop(&chunk[..n]);
                if writer.reader_gone() {
                    return;
                }
            }
            Pace::FullSpeed => {
                if !writer.push_waiting(&chunk[..n]) {
                    return;
                }
            }
        }
    }
    writer.finish(None);
}
