//! Sources that read an audio file (any format `cry-core` decodes) or raw PCM (stdin) as fast
//! as they are asked.

use std::fs::File;
use std::io::{BufReader, Read as IoRead};
use std::path::{Path, PathBuf};

use cry_core::audio::AudioStream;

use super::source::{AudioSource, Format, Read, SourceError};

/// An audio file decoded incrementally by `cry-core` (WAV, Ogg Vorbis, FLAC, MP3, MP4/AAC; the
/// format is recognised by content; any rate, any channel count).
pub struct FileSource {
    stream: AudioStream,
    origin: String,
}

impl FileSource {
    /// Opens and checks the header of `path`.
    pub fn open(path: &Path) -> Result<Self, SourceError> {
        let origin = path.display().to_string();
        let file = File::open(path).map_err(|error| SourceError::Io {
            origin: origin.clone(),
            error,
        })?;
        let stream =
            AudioStream::open(BufReader::new(file)).map_err(|problem| SourceError::Decode {
                origin: origin.clone(),
                problem,
            })?;
        Ok(Self { stream, origin })
    }
}

impl AudioSource for FileSource {
    fn format(&self) -> Format {
        Format {
            sample_rate: self.stream.sample_rate(),
            channels: self.stream.channels(),
        }
    }

    fn read(&mut self, out: &mut [f32]) -> Result<Read, SourceError> {
        match self.stream.read_interleaved(out) {
            Ok(0) => Ok(Read::End),
            Ok(n) => Ok(Read::Samples(n)),
            Err(problem) => Err(SourceError::Decode {
                origin: self.origin.clone(),
                problem,
            }),
        }
    }
}

/// An audio file played again from its start each time it ends (`stream --loop`): a stream that
/// never ends, for demonstrations and for running `stream` as a service.
pub struct LoopedFile {
    path: PathBuf,
    file: FileSource,
    /// Samples read since the file was last opened: an empty file ends the stream instead of
    /// reopening forever.
    since_open: usize,
}

impl LoopedFile {
    /// Opens `path`, which is reopened whenever it ends.
    pub fn open(path: &Path) -> Result<Self, SourceError> {
        Ok(Self {
            path: path.to_path_buf(),
            file: FileSource::open(path)?,
            since_open: 0,
        })
    }
}

impl AudioSource for LoopedFile {
    fn format(&self) -> Format {
        self.file.format()
    }

    fn read(&mut self, out: &mut [f32]) -> Result<Read, SourceError> {
        match self.file.read(out)? {
            Read::End if self.since_open > 0 => {
                let again = FileSource::open(&self.path)?;
                if again.format() != self.file.format() {
                    return Err(SourceError::Decode {
                        origin: self.path.display().to_string(),
                        problem: cry_core::DecodeError::Malformed(
                            "the file changed its rate or channels between loops".into(),
                        ),
                    });
                }
                self.file = again;
                self.since_open = 0;
                Ok(Read::Pending)
            }
            Read::Samples(n) => {
                self.since_open += n;
                Ok(Read::Samples(n))
            }
            other => Ok(other),
        }
    }
}

/// Raw PCM sample encodings accepted on stdin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PcmEncoding {
    /// Signed 16-bit little-endian integers.
    S16le,
    /// 32-bit little-endian IEEE floats in [-1, 1].
    F32le,
}

impl PcmEncoding {
    fn bytes(self) -> usize {
        match self {
            PcmEncoding::S16le => 2,
            PcmEncoding::F32le => 4,
        }
    }

    fn name(self) -> &'static str {
        match self {
            PcmEncoding::S16le => "s16le",
            PcmEncoding::F32le => "f32le",
        }
    }
}

/// Largest |sample| accepted as f32 audio: generous headroom over full scale, far below what
/// integer PCM bytes read as floats usually give.
const F32_LIMIT: f32 = 64.0;

/// Raw interleaved PCM from any reader (stdin), checked against the declared format.
pub struct PcmSource<R: IoRead> {
    reader: R,
    origin: String,
    format: Format,
    encoding: PcmEncoding,
    bytes: Vec<u8>,
    /// Bytes at the start of `bytes` carried over from the last read (a partial frame).
    carry: usize,
    frames_read: u64,
    checked_header: bool,
}

impl<R: IoRead> PcmSource<R> {
    /// Reads `encoding` samples of `format` from `reader`; `origin` names it in errors.
    pub fn new(reader: R, origin: &str, format: Format, encoding: PcmEncoding) -> Self {
        let frame = encoding.bytes() * usize::from(format.channels);
        Self {
            reader,
            origin: origin.to_string(),
            format,
            encoding,
            bytes: vec![0; frame * 4096],
            carry: 0,
            frames_read: 0,
            checked_header: false,
        }
    }

    fn mismatch(&self, problem: String) -> SourceError {
        SourceError::Format {
            origin: self.origin.clone(),
            problem,
        }
    }
}

impl<R: IoRead> AudioSource for PcmSource<R> {
    fn format(&self) -> Format {
        self.format
    }

    fn read(&mut self, out: &mut [f32]) -> Result<Read, SourceError> {
        let width = self.encoding.bytes();
        let channels = usize::from(self.format.channels);
        let frame = width * channels;
        let max_bytes = (out.len() / channels * frame).min(self.bytes.len());
        if max_bytes < frame {
            return Ok(Read::Pending);
        }
        let mut filled = self.carry;
        // The first read looks for a WAV header, so it waits for 4 bytes when it can.
        let need = if self.checked_header {
            frame
        } else {
            frame.max(4).min(max_bytes)
        };
        while filled < need {
            let n = match self.reader.read(&mut self.bytes[filled..max_bytes]) {
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(error) => {
                    return Err(SourceError::Io {
                        origin: self.origin.clone(),
                        error,
                    });
                }
            };
            if n == 0 {
                if filled == 0 {
                    return Ok(Read::End);
                }
                if filled < frame {
                    return Err(self.mismatch(format!(
                        "the input ends inside a frame: {} byte(s) left over, but a frame of \
                         {channels} channel(s) of {} is {frame} bytes",
                        filled,
                        self.encoding.name()
                    )));
                }
                break;
            }
            filled += n;
        }
        if !self.checked_header {
            self.checked_header = true;
            if filled >= 4 && &self.bytes[..4] == b"RIFF" {
                return Err(self.mismatch(
                    "starts with a RIFF/WAVE header: this is a WAV file, not raw PCM; pass the \
                     file with --input FILE, or send headerless samples"
                        .into(),
                ));
            }
        }
        let whole = filled - filled % frame;
        let samples = whole / width;
        match self.encoding {
            PcmEncoding::S16le => {
                for (o, b) in out.iter_mut().zip(self.bytes[..whole].chunks_exact(2)) {
                    *o = f32::from(i16::from_le_bytes([b[0], b[1]])) / 32768.0;
                }
            }
            PcmEncoding::F32le => {
                for (i, (o, b)) in out
                    .iter_mut()
                    .zip(self.bytes[..whole].chunks_exact(4))
                    .enumerate()
                {
                    let value = f32::from_le_bytes([b[0], b[1], b[2], b[3]]);
                    if !value.is_finite() || value.abs() > F32_LIMIT {
                        let at = self.frames_read + (i / channels) as u64;
                        return Err(self.mismatch(format!(
                            "sample {value} at frame {at} is not f32le audio in [-1, 1]; \
                             is the input s16le (--format s16le)?"
                        )));
                    }
                    *o = value;
                }
            }
        }
        self.bytes.copy_within(whole..filled, 0);
        self.carry = filled - whole;
        self.frames_read += (samples / channels) as u64;
        Ok(Read::Samples(samples))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(source: &mut impl AudioSource) -> Result<Vec<f32>, SourceError> {
        let mut all = Vec::new();
        let mut out = [0.0; 6];
        loop {
            match source.read(&mut out)? {
                Read::Samples(n) => all.extend_from_slice(&out[..n]),
                Read::Pending => {}
                Read::End => return Ok(all),
            }
        }
    }

    /// A reader that returns one byte per call, to exercise partial frames.
    struct Trickle(std::io::Cursor<Vec<u8>>);
    impl IoRead for Trickle {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = buf.len().min(1);
            self.0.read(&mut buf[..n])
        }
    }

    const STEREO: Format = Format {
        sample_rate: 8_000,
        channels: 2,
    };

    #[test]
    fn s16le_frames_survive_byte_by_byte_reads() {
        let values: [i16; 6] = [0, 16384, -32768, 32767, -1, 1];
        let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        let mut source = PcmSource::new(
            Trickle(std::io::Cursor::new(bytes)),
            "stdin",
            STEREO,
            PcmEncoding::S16le,
        );
        let got = read_all(&mut source).unwrap();
        let want: Vec<f32> = values.iter().map(|v| f32::from(*v) / 32768.0).collect();
        assert_eq!(got, want);
    }

    #[test]
    fn format_mismatches_are_named() {
        // Half a stereo s16 frame at the end.
        let mut source = PcmSource::new(
            std::io::Cursor::new(vec![0u8; 6]),
            "stdin",
            STEREO,
            PcmEncoding::S16le,
        );
        let err = read_all(&mut source).unwrap_err().to_string();
        assert!(
            err.contains("ends inside a frame") && err.contains("4 bytes"),
            "{err}"
        );

        // s16 bytes declared as f32: 0x7fff7fff read as a float is a NaN.
        let bytes: Vec<u8> = [32767i16; 4].iter().flat_map(|v| v.to_le_bytes()).collect();
        let mut source = PcmSource::new(
            std::io::Cursor::new(bytes),
            "stdin",
            STEREO,
            PcmEncoding::F32le,
        );
        let err = read_all(&mut source).unwrap_err().to_string();
        assert!(
            err.contains("not f32le audio") && err.contains("s16le"),
            "{err}"
        );

        let mut wav = b"RIFF".to_vec();
        wav.extend_from_slice(&[0; 60]);
        let mut source = PcmSource::new(
            std::io::Cursor::new(wav),
            "stdin",
            STEREO,
            PcmEncoding::S16le,
        );
        let err = read_all(&mut source).unwrap_err().to_string();
        assert!(err.contains("WAV file, not raw PCM"), "{err}");
    }
}
