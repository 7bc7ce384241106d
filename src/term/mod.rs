//! Turning the PTY byte stream into clean text. The [`Stripper`] runs the bytes through vte's
//! parser and applies a line model: CR, backspace, erase-in-line and horizontal cursor moves
//! keep their terminal meaning (so progress bars, readline redraws and pager erasures come out
//! as the user saw them), every other escape sequence is dropped, and our own `OSC 7770`
//! markers come out as [`Event::Marker`] at their place in the stream. Full-screen programs are
//! out of scope for a line model; the stripper only reports that the alternate screen is on.

pub mod stripper;

pub use stripper::{Event, Stripper};
