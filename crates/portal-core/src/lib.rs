//! placeholder: the book of the crate is written with the state machine.
mod call;
mod config;
mod day;
mod io;
pub mod prompt;
pub mod rules;
mod secret;

pub use call::{Call, CallState};
pub use config::{CallConfig, CallContext, Caller, Dialed, PortalIdentity};
pub use day::Day;
pub use io::{
    Account, Audio, Audit, CallerMailbox, ChangeKind, ChangeReason, Digit, EndReason, Input, Login,
    Output, PlayId, RecordingHandle, RecordingKind, Reply, Request, RequestId, SetOutcome,
    VerifyOutcome,
};
pub use prompt::PromptId;
pub use rules::{PasscodeRules, RuleViolation, RulesError};
pub use secret::{MAX_ENTRY_DIGITS, Passcode, PasscodeSyntaxError};
