//! What the binary prints: JSON lines of stream events, and one JSON object per classified file.
//! Lines are built in reused buffers ([`json`]), so a line per window costs no allocation.

pub mod classify;
pub mod events;
pub mod json;

pub use events::EventWriter;

use crate::stream::decision::Event;

/// Where the streaming loop hands its events: the JSON lines, and with `--mqtt` the alerts too.
pub trait EventSink {
    /// Takes one event.
    fn write(&mut self, event: &Event) -> std::io::Result<()>;

    /// Called by the loop after the events of each read (and while the source has nothing):
    /// the place for what is numbered after them (suspended alerts).
    fn end_of_batch(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<W: std::io::Write> EventSink for EventWriter<W> {
    fn write(&mut self, event: &Event) -> std::io::Result<()> {
        EventWriter::write(self, event)
    }
}
