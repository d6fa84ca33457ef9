//! Login: the welcome or `enter_mailbox`, the star key for "not my own phone", the mailbox number, the passcode,
//! its verification by the store, and the lockout. A mailbox login goes on to [`Call::logged_in`]; the portal's
//! admin passcode goes to the admin menu.

use crate::io::{
    Account, Audio, Audit, CallerMailbox, ChangeReason, EndReason, Login, Output, Request,
    VerifyOutcome,
};
use crate::{Passcode, PromptId};

use super::Call;
use super::state::{After, Pending, Stage};

use PromptId as P;

impl Call {
    /// The driver did not know the caller: ask it to look the number up before greeting.
    pub(super) fn look_up_caller(&mut self, number: String) {
        self.request(Pending::Caller, Request::LookupCaller { number });
    }

    /// The start of the conversation, once it is known who is calling.
    pub(super) fn greet(&mut self, mailbox: Option<CallerMailbox>) {
        match mailbox {
            Some(mailbox) if mailbox.has_passcode => {
                self.account = Some(Account::Mailbox(mailbox.mailbox));
                self.ask(Stage::OwnPasscode, vec![Audio::Prompt(P::Welcome)]);
            }
            Some(_) => self.announce(
                vec![Audio::Prompt(P::PasscodeNotSet)],
                After::HangUp(EndReason::PasscodeNotSet),
            ),
            None => self.ask(Stage::MailboxNumber, vec![Audio::Prompt(P::EnterMailbox)]),
        }
    }

    /// `*` at a login prompt: not calling from one's own phone, or correcting the mailbox.
    pub(super) fn ask_for_mailbox(&mut self) {
        self.account = None;
        self.ask(Stage::MailboxNumber, vec![Audio::Prompt(P::EnterMailbox)]);
    }

    /// A mailbox number or extension was entered; the portal's own number or extension names its admin
    /// passcode.
    pub(super) fn submit_mailbox(&mut self, entry: String) {
        let account = if self.context.portal.is_named_by(&entry) {
            Account::PortalAdmin
        } else {
            Account::Mailbox(entry)
        };
        self.account = Some(account);
        self.ask(
            Stage::MailboxPasscode,
            vec![Audio::Prompt(P::EnterPasscode)],
        );
    }

    /// A passcode was entered at `stage`: ask the store to verify it for the account being logged into.
    pub(super) fn submit_passcode(&mut self, stage: Stage, entered: Passcode) {
        let Some(account) = self.account.clone() else {
            // Unreachable: both passcode stages are entered with an account. Verifying nothing is safe.
            self.ask_for_mailbox();
            return;
        };
        let request = Request::Verify {
            account: account.clone(),
            passcode: entered,
        };
        self.request(Pending::Verify { stage, account }, request);
    }

    /// The store's answer for `account`, the account the request named (checked by the caller of this).
    pub(super) fn verified(&mut self, stage: Stage, account: Account, outcome: VerifyOutcome) {
        match outcome {
            VerifyOutcome::Ok(login) => {
                let admin = account == Account::PortalAdmin;
                self.outputs
                    .push_back(Output::Audit(Audit::LoginSucceeded(account)));
                if admin {
                    self.ask_again(Stage::AdminMenu);
                } else {
                    self.logged_in(login);
                }
            }
            VerifyOutcome::Wrong => {
                self.outputs
                    .push_back(Output::Audit(Audit::LoginFailed(account)));
                self.failures += 1;
                if self.failures >= self.config.rules.failed_attempts_before_lockout {
                    self.say_goodbye(
                        vec![Audio::Prompt(P::PasscodeIncorrect)],
                        EndReason::TooManyFailures,
                    );
                } else {
                    self.ask(
                        stage,
                        vec![
                            Audio::Prompt(P::PasscodeIncorrect),
                            Audio::Prompt(P::EnterPasscode),
                        ],
                    );
                }
            }
            VerifyOutcome::Locked => {
                self.outputs
                    .push_back(Output::Audit(Audit::LockedOut(account)));
                self.say_goodbye(vec![Audio::Prompt(P::LockedOut)], EndReason::LockedOut);
            }
        }
    }

    /// After a mailbox login: the forced change, then the name, then the main menu.
    fn logged_in(&mut self, login: Login) {
        let rules = &self.config.rules;
        let expired = login
            .passcode_set_on
            .is_some_and(|set_on| rules.is_expired(set_on, self.context.today));
        let reason = login
            .must_change
            .or(expired.then_some(ChangeReason::Expired));
        let name_recorded = login.name_recorded;
        self.login = Some(login);
        if let Some(reason) = reason {
            self.start_forced_change(reason, name_recorded);
        } else if !name_recorded {
            self.ask_for_name(Vec::new());
        } else {
            self.ask_again(Stage::MainMenu);
        }
    }
}
