//! What the binary prints: JSON lines of stream events, and one JSON object per classified file.
//! Lines are built in reused buffers ([`json`]), so a line per window costs no allocation.

pub mod classify;
pub mod events;
pub mod json;

pub use events::EventWriter;
