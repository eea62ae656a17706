//! Telling audio containers apart by their first bytes, whatever the file is called.

use std::fmt;

/// Bytes [`sniff`] needs to recognise every format.
pub const SNIFF_LEN: usize = 12;

/// A container format recognised by its magic bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AudioFormat {
    /// RIFF/WAVE.
    Wav,
    /// Ogg (Vorbis is decoded; Opus and others are reported as unsupported).
    Ogg,
    /// Native FLAC.
    Flac,
    /// MPEG audio frames, possibly behind an ID3v2 tag.
    Mp3,
    /// AAC in ADTS frames.
    Adts,
    /// ISO base media (MP4, M4A, 3GP, MOV): anything starting with an `ftyp` box.
    Mp4,
}

impl AudioFormat {
    /// Short human name, as used in error messages.
    pub fn name(self) -> &'static str {
        match self {
            AudioFormat::Wav => "WAV",
            AudioFormat::Ogg => "Ogg",
            AudioFormat::Flac => "FLAC",
            AudioFormat::Mp3 => "MPEG audio",
            AudioFormat::Adts => "ADTS",
            AudioFormat::Mp4 => "MP4",
        }
    }
}

impl fmt::Display for AudioFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The container format of a file whose first bytes are `head`, or `None` when they are not
/// those of a format this crate decodes. [`SNIFF_LEN`] bytes are enough; fewer can only match
/// the shorter magics.
pub fn sniff(head: &[u8]) -> Option<AudioFormat> {
    if head.len() >= 12 && &head[..4] == b"RIFF" && &head[8..12] == b"WAVE" {
        return Some(AudioFormat::Wav);
    }
    if head.starts_with(b"OggS") {
        return Some(AudioFormat::Ogg);
    }
    if head.starts_with(b"fLaC") {
        return Some(AudioFormat::Flac);
    }
    if head.starts_with(b"ID3") {
        return Some(AudioFormat::Mp3);
    }
    if head.len() >= 8 && &head[4..8] == b"ftyp" {
        return Some(AudioFormat::Mp4);
    }
    if head.len() >= 4 && head[0] == 0xFF && head[1] & 0xE0 == 0xE0 {
        let layer = (head[1] >> 1) & 0b11;
        let version = (head[1] >> 3) & 0b11;
        if layer == 0 {
            // ADTS: 12-bit sync, MPEG-2/4 id bit, layer 0; sampling index 13..15 is reserved.
            if head[1] & 0xF6 == 0xF0 && (head[2] >> 2) & 0x0F < 13 {
                return Some(AudioFormat::Adts);
            }
            return None;
        }
        let bitrate_index = head[2] >> 4;
        let rate_index = (head[2] >> 2) & 0b11;
        if version != 0b01 && bitrate_index != 0x0F && rate_index != 0b11 {
            return Some(AudioFormat::Mp3);
        }
    }
    None
}

/// Says what a file starting with `head` looks like, for "not an audio file" messages: the
/// printable start as text, otherwise the first bytes in hex.
pub fn describe_head(head: &[u8]) -> String {
    if head.is_empty() {
        return "the file is empty".into();
    }
    let shown = &head[..head.len().min(SNIFF_LEN)];
    let printable = shown
        .iter()
        .all(|&b| b.is_ascii_graphic() || b == b' ' || b == b'\t' || b == b'\n' || b == b'\r');
    if printable {
        format!("starts with {:?}", String::from_utf8_lossy(shown))
    } else {
        let hex: Vec<String> = shown.iter().map(|b| format!("{b:02x}")).collect();
        format!("starts with bytes {}", hex.join(" "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn magic_bytes_pick_the_format() {
        assert_eq!(sniff(b"RIFF\x24\0\0\0WAVEfmt "), Some(AudioFormat::Wav));
        assert_eq!(sniff(b"RIFF\x24\0\0\0AVI LIST"), None);
        assert_eq!(sniff(b"OggS\0\x02\0\0\0\0\0\0"), Some(AudioFormat::Ogg));
        assert_eq!(sniff(b"fLaC\0\0\0\x22"), Some(AudioFormat::Flac));
        assert_eq!(sniff(b"ID3\x04\0\0\0\0\0\x0a"), Some(AudioFormat::Mp3));
        assert_eq!(sniff(b"\0\0\0\x1cftypM4A "), Some(AudioFormat::Mp4));
        // MPEG-1 layer III, 128 kbit/s, 44.1 kHz.
        assert_eq!(sniff(&[0xFF, 0xFB, 0x90, 0x64]), Some(AudioFormat::Mp3));
        // ADTS, MPEG-4 AAC LC, 48 kHz.
        assert_eq!(sniff(&[0xFF, 0xF1, 0x4C, 0x80]), Some(AudioFormat::Adts));
    }

    #[test]
    fn near_misses_are_not_audio() {
        assert_eq!(sniff(b""), None);
        assert_eq!(sniff(b"RIFF"), None);
        assert_eq!(sniff(b"this is text"), None);
        // A frame sync with the reserved MPEG version, a bad bitrate or a bad rate index.
        assert_eq!(sniff(&[0xFF, 0xEB, 0x90, 0x64]), None);
        assert_eq!(sniff(&[0xFF, 0xFB, 0xF0, 0x64]), None);
        assert_eq!(sniff(&[0xFF, 0xFB, 0x9C, 0x64]), None);
        // PNG.
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\n\0\0\0\x0d"), None);
    }

    #[test]
    fn heads_are_described_as_text_or_hex() {
        assert_eq!(describe_head(b""), "the file is empty");
        assert_eq!(
            describe_head(b"this is a text file"),
            "starts with \"this is a te\""
        );
        assert_eq!(
            describe_head(b"\x89PNG\r\n"),
            "starts with bytes 89 50 4e 47 0d 0a"
        );
    }
}
