//! One streaming decoder for every format: the first bytes pick hound (WAV) or symphonia.

use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::Path;

use super::codec::CodecStream;
use super::decode::{
    DecodedAudio, Encoding, Interleaved, WavStream, check_sample_rate, frame_limit, read_mono,
};
use super::error::{AudioError, DecodeError};
use super::format::{AudioFormat, describe_head, sniff};

/// Bytes read ahead to pick the format (and to name a WAV's codec before hound sees it).
const HEAD_LEN: usize = 512;

type BoxedReader = Box<dyn Read + Send + Sync>;

enum Inner {
    Wav(WavStream<BoxedReader>),
    Codec(Box<CodecStream>),
}

/// Any supported file decoded incrementally: interleaved `f32` samples in [-1, 1] at the file's
/// own rate and channel count. The format is picked from the content, never from a file name.
pub struct AudioStream {
    format: AudioFormat,
    inner: Inner,
}

impl AudioStream {
    /// Opens `path` (buffered) and reads its header; errors name the file.
    pub fn open_file(path: &Path) -> Result<Self, AudioError> {
        let with_path = |kind| AudioError {
            path: path.to_path_buf(),
            kind,
        };
        let file = File::open(path).map_err(|e| with_path(DecodeError::Io(e)))?;
        Self::open(BufReader::new(file)).map_err(with_path)
    }

    /// Sniffs the format at the reader's position, rewinds and reads the header.
    pub fn open<R: Read + Seek + Send + Sync + 'static>(
        mut reader: R,
    ) -> Result<Self, DecodeError> {
        let start = reader.stream_position()?;
        let head = read_head(&mut reader, HEAD_LEN)?;
        reader.seek(SeekFrom::Start(start))?;
        let format = sniff(&head).ok_or_else(|| DecodeError::NotAudio(describe_head(&head)))?;
        let inner = match format {
            AudioFormat::Wav => {
                if let Some(codec) = wav_codec_hound_lacks(&head) {
                    return Err(DecodeError::UnsupportedEncoding(codec));
                }
                Inner::Wav(WavStream::open(Box::new(reader) as BoxedReader)?)
            }
            _ => Inner::Codec(Box::new(CodecStream::open(reader, format)?)),
        };
        Ok(Self { format, inner })
    }

    /// The container format found in the first bytes.
    pub fn format(&self) -> AudioFormat {
        self.format
    }

    /// The file's sample rate in Hz.
    pub fn sample_rate(&self) -> u32 {
        match &self.inner {
            Inner::Wav(s) => s.sample_rate(),
            Inner::Codec(s) => s.sample_rate(),
        }
    }

    /// The file's channel count.
    pub fn channels(&self) -> u16 {
        match &self.inner {
            Inner::Wav(s) => s.channels(),
            Inner::Codec(s) => s.channels(),
        }
    }

    /// The file's sample encoding (codec).
    pub fn encoding(&self) -> Encoding {
        match &self.inner {
            Inner::Wav(s) => s.encoding(),
            Inner::Codec(s) => s.encoding(),
        }
    }

    /// Frames the header announces, when it does (WAV and FLAC always, MP3 only with a
    /// Xing/Info frame).
    pub fn total_frames(&self) -> Option<u64> {
        match &self.inner {
            Inner::Wav(s) => Some(s.total_frames()),
            Inner::Codec(s) => s.total_frames(),
        }
    }

    /// Reads up to `out.len()` interleaved samples (rounded down to whole frames; `out` must hold
    /// at least one frame); returns how many were written, 0 at the end of the data. Allocates
    /// only while a compressed stream's packets keep growing.
    pub fn read_interleaved(&mut self, out: &mut [f32]) -> Result<usize, DecodeError> {
        match &mut self.inner {
            Inner::Wav(s) => s.read_interleaved(out),
            Inner::Codec(s) => s.read_interleaved(out),
        }
    }
}

impl Interleaved for AudioStream {
    fn channel_count(&self) -> usize {
        usize::from(self.channels())
    }

    fn read_into(&mut self, out: &mut [f32]) -> Result<usize, DecodeError> {
        self.read_interleaved(out)
    }
}

/// Decodes a whole stream to mono, reading at most `max_seconds` of it.
///
/// When the limit is reached, the rest is left unread if the header announces the length, and
/// otherwise decoded only to count its frames.
pub fn decode_audio(
    mut stream: AudioStream,
    max_seconds: Option<f32>,
) -> Result<DecodedAudio, DecodeError> {
    let sample_rate = stream.sample_rate();
    check_sample_rate(sample_rate)?;
    let limit = frame_limit(max_seconds, sample_rate);
    let samples = read_mono(&mut stream, limit)?;
    let read = samples.len() as u64;
    let total = if read < limit {
        read
    } else {
        let announced = stream.total_frames();
        match (&mut stream.inner, announced) {
            (_, Some(total)) => total,
            (Inner::Codec(codec), None) => read + codec.count_remaining_frames(),
            (Inner::Wav(_), None) => read,
        }
    };
    Ok(DecodedAudio {
        samples,
        sample_rate,
        channels: stream.channels(),
        encoding: stream.encoding(),
        cut_from_frames: (total > read).then_some(total),
    })
}

/// Reads the first bytes of `path` and says which format they are, or why the file is not
/// audio (`not an audio file: starts with "..."`), without decoding anything.
pub fn sniff_file(path: &Path) -> Result<AudioFormat, AudioError> {
    let with_path = |kind| AudioError {
        path: path.to_path_buf(),
        kind,
    };
    let mut file = File::open(path).map_err(|e| with_path(DecodeError::Io(e)))?;
    let head = read_head(&mut file, super::format::SNIFF_LEN).map_err(with_path)?;
    sniff(&head).ok_or_else(|| with_path(DecodeError::NotAudio(describe_head(&head))))
}

fn read_head(reader: &mut impl Read, len: usize) -> Result<Vec<u8>, DecodeError> {
    let mut head = Vec::with_capacity(len);
    reader.take(len as u64).read_to_end(&mut head)?;
    Ok(head)
}

/// Names the codec of a WAV whose `fmt ` chunk (within `head`) holds a format tag hound does
/// not decode, so the error says "A-law" rather than "unknown format tag".
fn wav_codec_hound_lacks(head: &[u8]) -> Option<String> {
    let mut at = 12;
    while at + 8 <= head.len() {
        let id = &head[at..at + 4];
        let size = u32::from_le_bytes(head[at + 4..at + 8].try_into().ok()?) as usize;
        if id == b"fmt " {
            let tag = u16::from_le_bytes(head.get(at + 8..at + 10)?.try_into().ok()?);
            let name = match tag {
                0x0001 | 0x0003 | 0xFFFE => return None,
                0x0002 => "Microsoft ADPCM".to_string(),
                0x0006 => "A-law".to_string(),
                0x0007 => "mu-law".to_string(),
                0x0011 => "IMA ADPCM".to_string(),
                0x0031 => "GSM 6.10".to_string(),
                0x0050 => "MPEG audio".to_string(),
                0x0055 => "MP3".to_string(),
                0x0161 => "WMA".to_string(),
                0x2000 => "AC-3".to_string(),
                _ => "an unknown codec".to_string(),
            };
            return Some(format!(
                "{name} in WAV (format tag {tag}; WAV is decoded from PCM and IEEE float)"
            ));
        }
        at = at
            .checked_add(8)?
            .checked_add(size)?
            .checked_add(size & 1)?;
    }
    None
}
