//! Compressed formats (Ogg Vorbis, FLAC, MP3, MP4/ADTS AAC) decoded by symphonia.

use std::io::{self, Read, Seek, SeekFrom};

use symphonia::core::codecs::audio::well_known as codecs;
use symphonia::core::codecs::audio::{
    AudioCodecId, AudioDecoder, AudioDecoderOptions, CODEC_ID_NULL_AUDIO,
};
use symphonia::core::errors::Error as SymError;
use symphonia::core::formats::probe::Hint;
use symphonia::core::formats::{FormatOptions, FormatReader, TrackType};
use symphonia::core::io::{MediaSource, MediaSourceStream, MediaSourceStreamOptions};
use symphonia::core::meta::MetadataOptions;

use super::decode::{Encoding, MAX_SAMPLE_MAGNITUDE, check_sample_rate};
use super::error::DecodeError;
use super::format::AudioFormat;

/// Packets in a row the codec may decode to nothing before the stream counts as empty.
const MAX_EMPTY_PACKETS: u32 = 10_000;

/// A seekable reader handed to symphonia.
struct Source<R> {
    inner: R,
    len: Option<u64>,
}

impl<R: Read> Read for Source<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read(buf)
    }
}

impl<R: Seek> Seek for Source<R> {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        self.inner.seek(pos)
    }
}

impl<R: Read + Seek + Send + Sync> MediaSource for Source<R> {
    fn is_seekable(&self) -> bool {
        true
    }

    fn byte_len(&self) -> Option<u64> {
        self.len
    }
}

/// A compressed stream decoded packet by packet into interleaved `f32`.
pub(super) struct CodecStream {
    reader: Box<dyn FormatReader>,
    decoder: Box<dyn AudioDecoder>,
    track_id: u32,
    sample_rate: u32,
    channels: u16,
    encoding: Encoding,
    total_frames: Option<u64>,
    /// Interleaved samples of the last packet; `pending[taken..]` are not handed out yet.
    pending: Vec<f32>,
    taken: usize,
    /// Frames decoded so far (including `pending`).
    decoded_frames: u64,
    ended: bool,
}

impl CodecStream {
    /// Probes `reader` (positioned at the start of the file), picks its first audio track and
    /// decodes the first packet to learn the rate and channel count.
    pub(super) fn open<R: Read + Seek + Send + Sync + 'static>(
        mut reader: R,
        sniffed: AudioFormat,
    ) -> Result<Self, DecodeError> {
        let start = reader.stream_position()?;
        let end = reader.seek(SeekFrom::End(0))?;
        reader.seek(SeekFrom::Start(start))?;
        let source = Source {
            inner: reader,
            len: Some(end.saturating_sub(start)),
        };
        let mss = MediaSourceStream::new(Box::new(source), MediaSourceStreamOptions::default());
        let format_reader = symphonia::default::get_probe()
            .probe(
                &Hint::new(),
                mss,
                FormatOptions::default(),
                MetadataOptions::default(),
            )
            .map_err(|e| header_error(e, sniffed))?;
        let track = format_reader
            .default_track(TrackType::Audio)
            .or_else(|| format_reader.first_track(TrackType::Audio))
            .ok_or_else(|| {
                DecodeError::UnsupportedEncoding(format!("{sniffed} file without an audio track"))
            })?;
        let track_id = track.id;
        let total_frames = track.num_frames;
        let params = track
            .codec_params
            .as_ref()
            .and_then(|p| p.audio())
            .ok_or_else(|| {
                DecodeError::UnsupportedEncoding(format!("{sniffed} file without an audio track"))
            })?
            .clone();
        let encoding = match params.codec {
            codecs::CODEC_ID_VORBIS => Encoding::Vorbis,
            codecs::CODEC_ID_FLAC => Encoding::Flac(
                params
                    .bits_per_sample
                    .and_then(|b| u16::try_from(b).ok())
                    .unwrap_or(0),
            ),
            codecs::CODEC_ID_MP3 => Encoding::Mp3,
            codecs::CODEC_ID_AAC => Encoding::Aac,
            other => {
                return Err(DecodeError::UnsupportedEncoding(format!(
                    "{} in {sniffed}",
                    codec_name(other)
                )));
            }
        };
        if total_frames == Some(0) {
            return Err(DecodeError::ZeroSamples);
        }
        let decoder = symphonia::default::get_codecs()
            .make_audio_decoder(&params, &AudioDecoderOptions::default())
            .map_err(|e| header_error(e, sniffed))?;
        let mut stream = Self {
            reader: format_reader,
            decoder,
            track_id,
            sample_rate: 0,
            channels: 0,
            encoding,
            total_frames,
            pending: Vec::new(),
            taken: 0,
            decoded_frames: 0,
            ended: false,
        };
        let first = stream.next_packet().map_err(|e| match e {
            DecodeError::TruncatedData { .. } | DecodeError::TruncatedStream { .. } => {
                DecodeError::TruncatedHeader(format!(
                    "the {sniffed} file ends before its first audio packet"
                ))
            }
            other => other,
        })?;
        if !first {
            return Err(DecodeError::ZeroSamples);
        }
        Ok(stream)
    }

    pub(super) fn sample_rate(&self) -> u32 {
        self.sample_rate
    }

    pub(super) fn channels(&self) -> u16 {
        self.channels
    }

    pub(super) fn encoding(&self) -> Encoding {
        self.encoding
    }

    pub(super) fn total_frames(&self) -> Option<u64> {
        self.total_frames
    }

    /// Same contract as [`super::WavStream::read_interleaved`]; allocates only when a packet is
    /// longer than every earlier one.
    pub(super) fn read_interleaved(&mut self, out: &mut [f32]) -> Result<usize, DecodeError> {
        let channels = usize::from(self.channels);
        let wanted = out.len() / channels * channels;
        let mut n = 0;
        while n < wanted {
            if self.taken == self.pending.len() && !self.next_packet()? {
                break;
            }
            let take = (wanted - n).min(self.pending.len() - self.taken);
            out[n..n + take].copy_from_slice(&self.pending[self.taken..self.taken + take]);
            n += take;
            self.taken += take;
        }
        Ok(n)
    }

    /// Frames after what was decoded so far, counted by decoding them; stops quietly at the first
    /// damaged packet, since only the count is wanted.
    pub(super) fn count_remaining_frames(&mut self) -> u64 {
        let before = self.decoded_frames;
        while let Ok(true) = self.next_packet() {}
        self.decoded_frames - before
    }

    /// Decodes the next non-empty packet of the track into `pending`; false at the end.
    fn next_packet(&mut self) -> Result<bool, DecodeError> {
        let mut empty = 0;
        while !self.ended {
            let packet = match self.reader.next_packet() {
                Ok(Some(packet)) => packet,
                Ok(None) => {
                    self.ended = true;
                    let read = self.decoded_frames;
                    return match self.total_frames {
                        Some(expected) if read < expected => Err(DecodeError::TruncatedData {
                            expected: expected.saturating_mul(u64::from(self.channels.max(1))),
                            read: read * u64::from(self.channels.max(1)),
                        }),
                        _ => Ok(false),
                    };
                }
                Err(e) => {
                    self.ended = true;
                    return Err(self.data_error(e));
                }
            };
            if packet.track_id != self.track_id {
                continue;
            }
            let decoded = match self.decoder.decode(&packet) {
                Ok(decoded) => decoded,
                Err(e) => {
                    self.ended = true;
                    let frame = self.decoded_frames;
                    return Err(match e {
                        // The packet is shorter than its own bitstream says: damaged, not cut.
                        SymError::IoError(io) => DecodeError::Corrupt {
                            frame,
                            reason: io.to_string(),
                        },
                        other => self.data_error(other),
                    });
                }
            };
            let spec = decoded.spec();
            let rate = spec.rate();
            let channels = spec.channels().count();
            if self.channels == 0 {
                check_sample_rate(rate)?;
                self.channels =
                    u16::try_from(channels)
                        .ok()
                        .filter(|&c| c > 0)
                        .ok_or_else(|| {
                            DecodeError::Malformed(format!("{channels} channels in the stream"))
                        })?;
                self.sample_rate = rate;
            } else if rate != self.sample_rate || channels != usize::from(self.channels) {
                self.ended = true;
                return Err(DecodeError::UnsupportedEncoding(format!(
                    "a stream that changes from {} Hz, {} channels to {rate} Hz, {channels} \
                     channels at frame {}",
                    self.sample_rate, self.channels, self.decoded_frames
                )));
            }
            decoded.copy_to_vec_interleaved(&mut self.pending);
            self.taken = 0;
            if let Some(total) = self.total_frames {
                // Encoder padding beyond the announced length (MP4 AAC's last frame) is dropped.
                let room = total.saturating_sub(self.decoded_frames);
                let keep = room.saturating_mul(u64::from(self.channels));
                if (self.pending.len() as u64) > keep {
                    self.pending.truncate(keep as usize);
                }
            }
            if let Some(pos) = self
                .pending
                .iter()
                .position(|v| !v.is_finite() || v.abs() > MAX_SAMPLE_MAGNITUDE)
            {
                self.ended = true;
                let frame = self.decoded_frames + (pos / usize::from(self.channels)) as u64;
                let value = self.pending[pos];
                return Err(if value.is_finite() {
                    DecodeError::OutOfRange { frame, value }
                } else {
                    DecodeError::NonFinite {
                        frame,
                        value: value.to_string(),
                    }
                });
            }
            if self.pending.is_empty() {
                empty += 1;
                if empty > MAX_EMPTY_PACKETS {
                    self.ended = true;
                    return Ok(false);
                }
                continue;
            }
            self.decoded_frames += (self.pending.len() / usize::from(self.channels)) as u64;
            return Ok(true);
        }
        Ok(false)
    }

    fn data_error(&self, err: SymError) -> DecodeError {
        let read = self.decoded_frames * u64::from(self.channels.max(1));
        match err {
            SymError::IoError(io) if io.kind() == io::ErrorKind::UnexpectedEof => {
                match self.total_frames {
                    Some(expected) if self.decoded_frames < expected => {
                        DecodeError::TruncatedData {
                            expected: expected.saturating_mul(u64::from(self.channels.max(1))),
                            read,
                        }
                    }
                    _ => DecodeError::TruncatedStream { read },
                }
            }
            SymError::IoError(io) => DecodeError::Io(io),
            SymError::DecodeError(reason) | SymError::LimitError(reason) => DecodeError::Corrupt {
                frame: self.decoded_frames,
                reason: reason.into(),
            },
            SymError::Unsupported(feature) => DecodeError::UnsupportedEncoding(format!(
                "{} stream using {feature}",
                self.encoding
            )),
            other => DecodeError::Corrupt {
                frame: self.decoded_frames,
                reason: other.to_string(),
            },
        }
    }
}

/// Maps an error met before the first packet.
fn header_error(err: SymError, sniffed: AudioFormat) -> DecodeError {
    match err {
        SymError::IoError(io) if io.kind() == io::ErrorKind::UnexpectedEof => {
            DecodeError::TruncatedHeader(format!(
                "the {sniffed} file ends before its audio data starts"
            ))
        }
        SymError::IoError(io) => DecodeError::Io(io),
        SymError::Unsupported(feature) if feature.contains("moov") => DecodeError::TruncatedHeader(
            "the MP4 file has no moov box (its index, written after the audio)".into(),
        ),
        SymError::Unsupported(feature) if feature.contains("probe") => DecodeError::Malformed(
            format!("no {sniffed} stream follows the {sniffed} magic bytes"),
        ),
        SymError::Unsupported(feature) => {
            DecodeError::UnsupportedEncoding(format!("{sniffed} file using {feature}"))
        }
        SymError::DecodeError(reason) | SymError::LimitError(reason) => {
            DecodeError::Malformed(format!("{sniffed}: {reason}"))
        }
        other => DecodeError::Malformed(format!("{sniffed}: {other}")),
    }
}

/// A readable name for codecs symphonia identifies but this build does not decode.
fn codec_name(id: AudioCodecId) -> String {
    let known = [
        (codecs::CODEC_ID_OPUS, "Opus"),
        (codecs::CODEC_ID_SPEEX, "Speex"),
        (codecs::CODEC_ID_ALAC, "ALAC"),
        (codecs::CODEC_ID_MP1, "MPEG layer I"),
        (codecs::CODEC_ID_MP2, "MPEG layer II"),
        (codecs::CODEC_ID_AC3, "AC-3"),
        (codecs::CODEC_ID_EAC3, "E-AC-3"),
        (codecs::CODEC_ID_AC4, "AC-4"),
        (codecs::CODEC_ID_DCA, "DTS"),
        (codecs::CODEC_ID_WMA, "WMA"),
        (codecs::CODEC_ID_PCM_ALAW, "A-law"),
        (codecs::CODEC_ID_PCM_MULAW, "mu-law"),
        (codecs::CODEC_ID_ADPCM_IMA_QT, "IMA ADPCM"),
        (codecs::CODEC_ID_ADPCM_MS, "Microsoft ADPCM"),
        (CODEC_ID_NULL_AUDIO, "an unknown codec"),
    ];
    known
        .iter()
        .find(|(known, _)| *known == id)
        .map_or_else(|| format!("codec {id}"), |(_, name)| (*name).to_string())
}
