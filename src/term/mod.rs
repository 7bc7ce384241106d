//! Turning the PTY byte stream into clean text. The [`Stripper`] runs the bytes through vte's
//! parser and applies a line model: CR, backspace, erase-in-line and horizontal cursor moves
//! keep their terminal meaning (so progress bars, readline redraws and pager erasures come out
//! as the user saw them), every other escape sequence is dropped, and our own `OSC 7770`
//! markers come out as [`Event::Marker`] at their place in the stream. Full-screen programs are
//! out of scope for a line model; the stripper only reports that the alternate screen is on.
//! For them, [`screen`] is a full terminal model built on demand from the shell's raw output,
//! and [`keys`] turns key names (`<esc>`, `<ctrl-c>`, `<up>`) into the bytes a terminal sends.

pub mod input;
pub mod keys;
pub mod screen;
pub mod stripper;

pub use stripper::{Event, Stripper};
