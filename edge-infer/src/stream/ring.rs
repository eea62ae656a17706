//! The lock-free single-producer single-consumer ring between capture and inference.
//!
//! The producer side never allocates, locks, logs or blocks in [`RingWriter::push_or_drop`]:
//! what does not fit is dropped and counted. That is the only call the microphone callback
//! makes. Non-real-time producers (files, stdin at full speed) use
//! [`RingWriter::push_waiting`], which waits for room instead of dropping.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ringbuf::traits::{Consumer, Observer, Producer, Split};
use ringbuf::{HeapCons, HeapProd, HeapRb};

use super::source::{AudioSource, Format, Read, SourceError};

/// How long the reader sleeps when the ring is empty.
const POLL: Duration = Duration::from_millis(5);

#[derive(Default)]
struct Shared {
    dropped: AtomicU64,
    writer_done: AtomicBool,
    reader_gone: AtomicBool,
    lost: AtomicBool,
    /// Set by non-real-time feeders only (never from an audio callback).
    failure: Mutex<Option<SourceError>>,
}

/// Creates a ring holding `capacity_frames` frames of `format`.
pub fn ring(format: Format, capacity_frames: usize) -> (RingWriter, RingSource) {
    let channels = usize::from(format.channels.max(1));
    let (producer, consumer) = HeapRb::<f32>::new(capacity_frames.max(1) * channels).split();
    let shared = Arc::new(Shared::default());
    (
        RingWriter {
            producer,
            shared: shared.clone(),
            channels,
        },
        RingSource {
            consumer,
            shared,
            format,
        },
    )
}

/// The producer end.
pub struct RingWriter {
    producer: HeapProd<f32>,
    shared: Arc<Shared>,
    channels: usize,
}

/// A handle for the capture error callback: marks the device lost.
#[derive(Clone)]
pub struct RingMonitor {
    shared: Arc<Shared>,
}

impl RingMonitor {
    /// Tells the reader the device is gone (it reports [`SourceError::DeviceLost`] once the
    /// ring is drained).
    pub fn mark_lost(&self) {
        self.shared.lost.store(true, Ordering::Release);
    }
}

impl RingWriter {
    /// Pushes the whole frames of `samples` that fit; drops and counts the rest. Real-time
    /// safe: no allocation, lock, log or wait.
    pub fn push_or_drop(&mut self, samples: &[f32]) -> usize {
        let room = self.producer.vacant_len().min(samples.len());
        let fits = room - room % self.channels;
        let pushed = self.producer.push_slice(&samples[..fits]);
        let dropped = samples.len() - pushed;
        if dropped > 0 {
            self.shared
                .dropped
                .fetch_add(dropped as u64, Ordering::Relaxed);
        }
        pushed
    }

    /// Pushes all of `samples`, waiting for room. Returns false if the reader has gone.
    pub fn push_waiting(&mut self, mut samples: &[f32]) -> bool {
        while !samples.is_empty() {
            if self.shared.reader_gone.load(Ordering::Acquire) {
                return false;
            }
            let room = self.producer.vacant_len().min(samples.len());
            let fits = room - room % self.channels;
            if fits == 0 {
                std::thread::sleep(POLL);
                continue;
            }
            let pushed = self.producer.push_slice(&samples[..fits]);
            samples = &samples[pushed..];
        }
        true
    }

    /// True once the reader has been dropped.
    pub fn reader_gone(&self) -> bool {
        self.shared.reader_gone.load(Ordering::Acquire)
    }

    /// A handle that can mark the device lost from another callback.
    pub fn monitor(&self) -> RingMonitor {
        RingMonitor {
            shared: self.shared.clone(),
        }
    }

    /// Ends the stream; the reader sees `failure` (if any) after the samples already pushed.
    pub fn finish(self, failure: Option<SourceError>) {
        if let Some(failure) = failure {
            *self
                .shared
                .failure
                .lock()
                .unwrap_or_else(|e| e.into_inner()) = Some(failure);
        }
        // Drop marks the end.
    }
}

impl Drop for RingWriter {
    fn drop(&mut self) {
        self.shared.writer_done.store(true, Ordering::Release);
    }
}

/// The consumer end: an [`AudioSource`].
pub struct RingSource {
    consumer: HeapCons<f32>,
    shared: Arc<Shared>,
    format: Format,
}

impl AudioSource for RingSource {
    fn format(&self) -> Format {
        self.format
    }

    fn read(&mut self, out: &mut [f32]) -> Result<Read, SourceError> {
        let channels = usize::from(self.format.channels.max(1));
        let want = out.len() - out.len() % channels;
        let n = self.consumer.pop_slice(&mut out[..want]);
        if n > 0 {
            return Ok(Read::Samples(n));
        }
        if self.shared.writer_done.load(Ordering::Acquire) {
            // Samples pushed just before the writer finished are still in the ring.
            let n = self.consumer.pop_slice(&mut out[..want]);
            if n > 0 {
                return Ok(Read::Samples(n));
            }
            let failure = self
                .shared
                .failure
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .take();
            return match failure {
                Some(failure) => Err(failure),
                None => Ok(Read::End),
            };
        }
        if self.shared.lost.load(Ordering::Acquire) {
            return Err(SourceError::DeviceLost(
                "the capture stream reported the device unavailable".into(),
            ));
        }
        std::thread::sleep(POLL);
        Ok(Read::Pending)
    }

    fn dropped_samples(&self) -> u64 {
        self.shared.dropped.load(Ordering::Relaxed)
    }
}

impl Drop for RingSource {
    fn drop(&mut self) {
        self.shared.reader_gone.store(true, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STEREO: Format = Format {
        sample_rate: 16_000,
        channels: 2,
    };

    #[test]
    fn a_full_ring_drops_whole_frames_and_counts_them() {
        let (mut writer, mut reader) = ring(STEREO, 3);
        assert_eq!(writer.push_or_drop(&[1.0, 2.0, 3.0, 4.0]), 4);
        // Room for one frame of the next three: two frames dropped, never half a frame.
        assert_eq!(writer.push_or_drop(&[5.0, 6.0, 7.0, 8.0, 9.0, 10.0]), 2);
        assert_eq!(reader.dropped_samples(), 4);
        let mut out = [0.0; 7];
        assert_eq!(reader.read(&mut out).unwrap(), Read::Samples(6));
        assert_eq!(out[..6], [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        drop(writer);
        assert_eq!(reader.read(&mut out).unwrap(), Read::End);
    }

    #[test]
    fn empty_ring_is_pending_until_the_writer_finishes_with_its_error() {
        let (writer, mut reader) = ring(STEREO, 4);
        let mut out = [0.0; 4];
        assert_eq!(reader.read(&mut out).unwrap(), Read::Pending);
        writer.finish(Some(SourceError::Format {
            origin: "stdin".into(),
            problem: "odd".into(),
        }));
        let err = reader.read(&mut out).unwrap_err();
        assert!(err.to_string().contains("stdin: odd"), "{err}");
    }

    #[test]
    fn lost_device_is_reported_after_the_ring_drains() {
        let (mut writer, mut reader) = ring(STEREO, 4);
        writer.push_or_drop(&[0.5, 0.5]);
        writer.monitor().mark_lost();
        let mut out = [0.0; 4];
        assert_eq!(reader.read(&mut out).unwrap(), Read::Samples(2));
        assert!(matches!(
            reader.read(&mut out),
            Err(SourceError::DeviceLost(_))
        ));
    }

    #[test]
    fn waiting_push_is_lossless_across_threads_and_stops_when_the_reader_goes() {
        let (mut writer, mut reader) = ring(STEREO, 8);
        let data: Vec<f32> = (0..10_000).map(|i| i as f32).collect();
        let expected = data.clone();
        let feeder = std::thread::spawn(move || {
            assert!(writer.push_waiting(&data));
        });
        let mut got = Vec::new();
        let mut out = [0.0; 6];
        loop {
            match reader.read(&mut out).unwrap() {
                Read::Samples(n) => got.extend_from_slice(&out[..n]),
                Read::Pending => {}
                Read::End => break,
            }
        }
        feeder.join().unwrap();
        assert_eq!(got, expected);
        assert_eq!(reader.dropped_samples(), 0);

        let (mut writer, reader) = ring(STEREO, 2);
        drop(reader);
        assert!(!writer.push_waiting(&[0.0; 8]));
    }
}
