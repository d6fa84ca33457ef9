//! placeholder: the book of the crate is written with the state machine.
mod day;
pub mod prompt;
pub mod rules;
mod secret;

pub use day::Day;
pub use prompt::PromptId;
pub use secret::{MAX_ENTRY_DIGITS, Passcode, PasscodeSyntaxError};
