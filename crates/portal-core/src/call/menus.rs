//! The menus a login leads to: the main menu (1 messages, 3 greetings, 8 change passcode, 9 goodbye), the greetings menu
//! (1 name, 2 busy, 3 no-answer, `*` back) and the portal's admin menu (1 business hours, 2 after hours greeting,
//! 9 goodbye). `#` repeats a menu; other keys are an invalid option.

use crate::io::{Digit, EndReason, RecordingKind};

use super::Call;
use super::state::Stage;

impl Call {
    /// A key at one of the menus (not a review: see `review_key`).
    pub(super) fn menu_key(&mut self, stage: Stage, digit: Digit) {
        use Digit::{Number, Pound, Star};
        match (stage, digit) {
            // The message keys have a meaning of their own for `#` (save): see `messages`.
            (Stage::Message, _) => self.message_key(digit),
            (_, Pound) => self.ask_again(stage),
            (Stage::MainMenu, Number(1)) => self.open_messages(),
            (Stage::MainMenu, Number(3)) => self.ask_again(Stage::GreetingsMenu),
            (Stage::MainMenu, Number(8)) => self.start_voluntary_change(),
            (Stage::MainMenu | Stage::AdminMenu, Number(9)) => {
                self.say_goodbye(Vec::new(), EndReason::CallerLeft)
            }
            (Stage::GreetingsMenu, Number(1)) => self.record(RecordingKind::Name, stage),
            (Stage::GreetingsMenu, Number(2)) => self.record(RecordingKind::BusyGreeting, stage),
            (Stage::GreetingsMenu, Number(3)) => {
                self.record(RecordingKind::NoAnswerGreeting, stage)
            }
            (Stage::GreetingsMenu, Star) => self.ask_again(Stage::MainMenu),
            (Stage::AdminMenu, Number(1)) => {
                self.record(RecordingKind::BusinessHoursGreeting, stage)
            }
            (Stage::AdminMenu, Number(2)) => self.record(RecordingKind::AfterHoursGreeting, stage),
            _ => self.invalid_option(stage),
        }
    }
}
