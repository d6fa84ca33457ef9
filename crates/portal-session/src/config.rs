//! What every session of a server shares: numbers that mean the voicemail button, the answer delay, the
//! conversation's timers and the prompts.

use std::sync::Arc;
use std::time::Duration;

use portal_core::CallConfig;
use portal_media::prompts::PromptLibrary;

/// Settings shared by every call of a server (the policy's rules are added per call, when it is routed).
#[derive(Debug, Clone)]
pub struct SessionConfig {
    /// Request-URI users that mean "the voicemail button": the call goes to the caller's own portal.
    pub voicemail_pilots: Vec<String>,
    /// How long a call waits before it is answered (zero: at once). A caller may CANCEL meanwhile.
    pub answer_after: Duration,
    /// The conversation's timers; its `rules` are replaced by the organization's when a call is routed.
    pub call: CallConfig,
    /// Silence after speech that ends a recording.
    pub recording_end_silence: Duration,
    /// The prompts, decoded and encoded once, shared by every call.
    pub prompts: Arc<PromptLibrary>,
}
