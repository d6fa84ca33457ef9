//! Choosing a new passcode: forced after login (the organization's default, a temporary or reset passcode, an
//! expired one) or asked for with key 8 of the main menu. The core checks the rules it can; the store checks
//! the history.

use crate::io::{Audio, Audit, ChangeKind, ChangeReason, EndReason, Output, Request, SetOutcome};
use crate::rules::RuleViolation;
use crate::{Passcode, PromptId};

use super::Call;
use super::state::{After, Pending, Stage};

use PromptId as P;

impl Call {
    /// The login owes a new passcode for `reason`; with no name recorded, the prompt also announces the name.
    pub(super) fn start_forced_change(&mut self, reason: ChangeReason, name_recorded: bool) {
        self.change = Some(ChangeKind::Forced(reason));
        self.change_tries = 0;
        let mut playlist = Vec::with_capacity(2);
        if reason == ChangeReason::Expired {
            playlist.push(Audio::Prompt(P::PasscodeExpired));
        }
        // Both prompts end by asking for the new passcode.
        if name_recorded {
            playlist.push(Audio::Prompt(P::MustChangePasscode));
        } else {
            playlist.push(Audio::Prompt(P::MustChangeAndRecordName));
            self.combined_prompt_played = true;
        }
        self.ask(Stage::NewPasscode, playlist);
    }

    /// Key 8 of the main menu, unless the passcode changed too recently.
    pub(super) fn start_voluntary_change(&mut self) {
        let set_on = self.login.as_ref().and_then(|login| login.passcode_set_on);
        if !self.config.rules.change_allowed(set_on, self.context.today) {
            self.outputs.push_back(Output::Audit(Audit::PasscodeRefused(
                RuleViolation::ChangeTooSoon,
            )));
            self.ask(
                Stage::MainMenu,
                vec![
                    Audio::Prompt(P::RuleChangeTooSoon),
                    Audio::Prompt(P::MainMenu),
                ],
            );
            return;
        }
        self.change = Some(ChangeKind::Voluntary);
        self.change_tries = 0;
        self.ask_again(Stage::NewPasscode);
    }

    /// `*` while choosing: start the new passcode over.
    pub(super) fn restart_new_passcode(&mut self) {
        self.new_passcode = None;
        self.ask_again(Stage::NewPasscode);
    }

    /// The first entry of the new passcode: check the rules, then ask for it again.
    pub(super) fn submit_new_passcode(&mut self, entered: Passcode) {
        let login = self.login.as_ref();
        let numbers: Vec<&str> = login
            .map(|login| login.user_numbers.iter().map(String::as_str).collect())
            .unwrap_or_default();
        match self.config.rules.check(&entered, &numbers) {
            Ok(()) => {
                self.new_passcode = Some(entered);
                self.ask_again(Stage::ConfirmPasscode);
            }
            Err(violation) => self.change_failed(violation.prompt(), Some(violation)),
        }
    }

    /// The second entry: when it matches, ask the store to set the passcode.
    pub(super) fn submit_confirmation(&mut self, entered: Passcode) {
        match (self.new_passcode.take(), &self.login, self.change) {
            (Some(first), Some(login), Some(kind)) if first == entered => {
                let request = Request::SetPasscode {
                    mailbox: login.mailbox.clone(),
                    passcode: first,
                    kind,
                };
                self.request(Pending::SetPasscode(kind), request);
            }
            // A change starts only after a mailbox login and with its kind set, so only a mismatch gets here.
            _ => self.change_failed(P::PasscodeMismatch, None),
        }
    }

    /// A try at choosing a new passcode failed: name why, then ask again or, after too many, say goodbye.
    fn change_failed(&mut self, reason: PromptId, violation: Option<RuleViolation>) {
        if let Some(violation) = violation {
            self.outputs
                .push_back(Output::Audit(Audit::PasscodeRefused(violation)));
        }
        self.new_passcode = None;
        self.change_tries = self.change_tries.saturating_add(1);
        if self.change_tries >= self.config.max_change_tries {
            self.say_goodbye(vec![Audio::Prompt(reason)], EndReason::TooManyChangeTries);
        } else {
            self.ask(
                Stage::NewPasscode,
                vec![Audio::Prompt(reason), Audio::Prompt(P::EnterNewPasscode)],
            );
        }
    }

    /// The store's answer to the new passcode chosen for `kind`.
    pub(super) fn passcode_set(&mut self, kind: ChangeKind, outcome: SetOutcome) {
        match outcome {
            SetOutcome::Changed => {
                self.change = None;
                self.outputs
                    .push_back(Output::Audit(Audit::PasscodeChanged(kind)));
                let today = self.context.today;
                // A change is sent only with a login (`submit_confirmation`); without one the name is asked
                // for, which cannot be saved, so nothing opens.
                let name_recorded = self.login.as_mut().is_some_and(|login| {
                    login.must_change = None;
                    login.passcode_set_on = Some(today);
                    login.name_recorded
                });
                let playlist = vec![Audio::Prompt(P::PasscodeChanged)];
                if name_recorded {
                    self.announce(playlist, After::Ask(Stage::MainMenu));
                } else {
                    self.ask_for_name(playlist);
                }
            }
            SetOutcome::Rejected(violation) => {
                self.change_failed(violation.prompt(), Some(violation))
            }
            SetOutcome::Failed => {
                self.say_goodbye(vec![Audio::Prompt(P::SaveFailed)], EndReason::StoreFailed)
            }
        }
    }
}
