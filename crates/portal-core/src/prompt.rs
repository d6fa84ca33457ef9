//! Prompt identifiers: what the caller hears, named the way `prompts/catalog.toml` names it.

use std::fmt;

macro_rules! prompts {
    ($($variant:ident => $id:literal,)*) => {
        /// One recorded prompt of the catalogue. The driver maps it to `prompts/<lang>/<id>.wav`.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum PromptId {
            $($variant,)*
        }

        impl PromptId {
            /// Every prompt the conversation can ask for.
            pub const ALL: &'static [PromptId] = &[$(PromptId::$variant,)*];

            /// The catalogue id, also the WAV file's stem.
            pub const fn id(self) -> &'static str {
                match self {
                    $(PromptId::$variant => $id,)*
                }
            }

            /// The prompt whose catalogue id is `id`.
            pub fn from_id(id: &str) -> Option<PromptId> {
                match id {
                    $($id => Some(PromptId::$variant),)*
                    _ => None,
                }
            }
        }
    };
}

prompts! {
    Welcome => "welcome",
    EnterMailbox => "enter_mailbox",
    EnterPasscode => "enter_passcode",
    PasscodeIncorrect => "passcode_incorrect",
    LockedOut => "locked_out",
    Goodbye => "goodbye",
    PasscodeNotSet => "passcode_not_set",
    MustChangeAndRecordName => "must_change_and_record_name",
    MustChangePasscode => "must_change_passcode",
    PasscodeExpired => "passcode_expired",
    MustRecordName => "must_record_name",
    EnterNewPasscode => "enter_new_passcode",
    ReenterNewPasscode => "reenter_new_passcode",
    PasscodeMismatch => "passcode_mismatch",
    PasscodeChanged => "passcode_changed",
    RuleTooShort => "rule_too_short",
    RuleTooLong => "rule_too_long",
    RuleRepeatedDigits => "rule_repeated_digits",
    RuleSequence => "rule_sequence",
    RuleRepeatedPattern => "rule_repeated_pattern",
    RuleUserNumber => "rule_user_number",
    RuleReused => "rule_reused",
    RuleChangeTooSoon => "rule_change_too_soon",
    RecordName => "record_name",
    Tone => "tone",
    NameIs => "name_is",
    NameReview => "name_review",
    NameSaved => "name_saved",
    RecordingTooShort => "recording_too_short",
    MainMenu => "main_menu",
    GreetingsMenu => "greetings_menu",
    RecordBusyGreeting => "record_busy_greeting",
    RecordNoAnswerGreeting => "record_no_answer_greeting",
    GreetingIs => "greeting_is",
    GreetingReview => "greeting_review",
    GreetingSaved => "greeting_saved",
    InvalidOption => "invalid_option",
    AdminMenu => "admin_menu",
    RecordBusinessHoursGreeting => "record_business_hours_greeting",
    RecordAfterHoursGreeting => "record_after_hours_greeting",
    AdminGreetingReview => "admin_greeting_review",
    SaveFailed => "save_failed",
}

impl fmt::Display for PromptId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_are_unique() {
        for prompt in PromptId::ALL {
            assert_eq!(PromptId::from_id(prompt.id()), Some(*prompt));
        }
        let mut ids: Vec<_> = PromptId::ALL.iter().map(|p| p.id()).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), PromptId::ALL.len());
        assert_eq!(PromptId::from_id("no_such_prompt"), None);
    }
}
