//! What every flow says with: prompts that ask for keys, announcements, goodbye, requests, the end of the call,
//! and the end of a call whose driver fed it an input it cannot receive.

use crate::PromptId;
use crate::io::{Audio, Audit, DriverError, EndReason, Output, PlayId, Request, RequestId};

use super::Call;
use super::state::{After, Pending, Phase, Stage};

impl Call {
    /// Plays a prompt that asks for keys (barge-in allowed) and waits in `stage`.
    pub(super) fn ask(&mut self, stage: Stage, audio: Vec<Audio>) {
        self.entry.clear();
        self.phase = Phase::Collect(stage);
        self.play(audio, true);
    }

    /// Asks for `stage`'s keys with its own prompt (after silence, `#`, or an announcement).
    pub(super) fn ask_again(&mut self, stage: Stage) {
        self.ask(stage, vec![Audio::Prompt(stage.ask())]);
    }

    /// A key that means nothing at `stage`: say so and ask again.
    pub(super) fn invalid_option(&mut self, stage: Stage) {
        self.ask(
            stage,
            vec![
                Audio::Prompt(PromptId::InvalidOption),
                Audio::Prompt(stage.ask()),
            ],
        );
    }

    /// Plays an announcement that takes no keys, then does `after`.
    pub(super) fn announce(&mut self, audio: Vec<Audio>, after: After) {
        self.phase = Phase::Announce(after);
        self.play(audio, false);
    }

    /// Plays `audio` and goodbye, then hangs up for `reason`.
    pub(super) fn say_goodbye(&mut self, mut audio: Vec<Audio>, reason: EndReason) {
        audio.push(Audio::Prompt(PromptId::Goodbye));
        self.announce(audio, After::HangUp(reason));
    }

    pub(super) fn hang_up(&mut self, reason: EndReason) {
        self.end();
        self.outputs.push_back(Output::HangUp);
        self.outputs
            .push_back(Output::Audit(Audit::CallEnded(reason)));
    }

    /// The driver fed an input the call cannot receive where it is. Debug builds stop here, so tests and
    /// development find the bug where it happens; release builds fail closed: the call ends at once, and says
    /// why, so the driver logs it (the core has no logger).
    pub(super) fn driver_error(&mut self, error: DriverError) {
        debug_assert!(false, "driver error: {error:?}");
        self.end();
        self.outputs
            .push_back(Output::Audit(Audit::DriverError(error)));
        self.outputs.push_back(Output::HangUp);
        self.outputs
            .push_back(Output::Audit(Audit::CallEnded(EndReason::DriverError)));
    }

    fn play(&mut self, audio: Vec<Audio>, barge_in: bool) {
        let id = PlayId(self.next_id());
        self.deadline = None;
        self.playing = Some((id, barge_in));
        self.outputs.push_back(Output::Play {
            id,
            audio,
            barge_in,
        });
    }

    /// Sends `request` and waits for its reply, which must fit `pending`.
    pub(super) fn request(&mut self, pending: Pending, request: Request) {
        let id = RequestId(self.next_id());
        self.deadline = None;
        self.playing = None;
        self.phase = Phase::Pending(id, pending);
        self.outputs.push_back(Output::Request(id, request));
    }

    pub(super) fn end(&mut self) {
        self.phase = Phase::Ended;
        self.deadline = None;
        self.playing = None;
        self.entry.clear();
        self.new_passcode = None;
        self.held_keys.clear();
    }

    fn next_id(&mut self) -> u32 {
        self.next_id = self.next_id.wrapping_add(1);
        self.next_id
    }
}
