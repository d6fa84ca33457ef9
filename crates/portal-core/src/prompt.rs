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
    // The words `speech` joins into numbers, dates and times (catalogue kind "word").
    // Cardinals: 0 to 99 each one recording, then the hundreds and the thousands.
    NumberZero => "number_0",
    NumberOne => "number_1",
    NumberTwo => "number_2",
    NumberThree => "number_3",
    NumberFour => "number_4",
    NumberFive => "number_5",
    NumberSix => "number_6",
    NumberSeven => "number_7",
    NumberEight => "number_8",
    NumberNine => "number_9",
    NumberTen => "number_10",
    NumberEleven => "number_11",
    NumberTwelve => "number_12",
    NumberThirteen => "number_13",
    NumberFourteen => "number_14",
    NumberFifteen => "number_15",
    NumberSixteen => "number_16",
    NumberSeventeen => "number_17",
    NumberEighteen => "number_18",
    NumberNineteen => "number_19",
    NumberTwenty => "number_20",
    NumberTwentyOne => "number_21",
    NumberTwentyTwo => "number_22",
    NumberTwentyThree => "number_23",
    NumberTwentyFour => "number_24",
    NumberTwentyFive => "number_25",
    NumberTwentySix => "number_26",
    NumberTwentySeven => "number_27",
    NumberTwentyEight => "number_28",
    NumberTwentyNine => "number_29",
    NumberThirty => "number_30",
    NumberThirtyOne => "number_31",
    NumberThirtyTwo => "number_32",
    NumberThirtyThree => "number_33",
    NumberThirtyFour => "number_34",
    NumberThirtyFive => "number_35",
    NumberThirtySix => "number_36",
    NumberThirtySeven => "number_37",
    NumberThirtyEight => "number_38",
    NumberThirtyNine => "number_39",
    NumberForty => "number_40",
    NumberFortyOne => "number_41",
    NumberFortyTwo => "number_42",
    NumberFortyThree => "number_43",
    NumberFortyFour => "number_44",
    NumberFortyFive => "number_45",
    NumberFortySix => "number_46",
    NumberFortySeven => "number_47",
    NumberFortyEight => "number_48",
    NumberFortyNine => "number_49",
    NumberFifty => "number_50",
    NumberFiftyOne => "number_51",
    NumberFiftyTwo => "number_52",
    NumberFiftyThree => "number_53",
    NumberFiftyFour => "number_54",
    NumberFiftyFive => "number_55",
    NumberFiftySix => "number_56",
    NumberFiftySeven => "number_57",
    NumberFiftyEight => "number_58",
    NumberFiftyNine => "number_59",
    NumberSixty => "number_60",
    NumberSixtyOne => "number_61",
    NumberSixtyTwo => "number_62",
    NumberSixtyThree => "number_63",
    NumberSixtyFour => "number_64",
    NumberSixtyFive => "number_65",
    NumberSixtySix => "number_66",
    NumberSixtySeven => "number_67",
    NumberSixtyEight => "number_68",
    NumberSixtyNine => "number_69",
    NumberSeventy => "number_70",
    NumberSeventyOne => "number_71",
    NumberSeventyTwo => "number_72",
    NumberSeventyThree => "number_73",
    NumberSeventyFour => "number_74",
    NumberSeventyFive => "number_75",
    NumberSeventySix => "number_76",
    NumberSeventySeven => "number_77",
    NumberSeventyEight => "number_78",
    NumberSeventyNine => "number_79",
    NumberEighty => "number_80",
    NumberEightyOne => "number_81",
    NumberEightyTwo => "number_82",
    NumberEightyThree => "number_83",
    NumberEightyFour => "number_84",
    NumberEightyFive => "number_85",
    NumberEightySix => "number_86",
    NumberEightySeven => "number_87",
    NumberEightyEight => "number_88",
    NumberEightyNine => "number_89",
    NumberNinety => "number_90",
    NumberNinetyOne => "number_91",
    NumberNinetyTwo => "number_92",
    NumberNinetyThree => "number_93",
    NumberNinetyFour => "number_94",
    NumberNinetyFive => "number_95",
    NumberNinetySix => "number_96",
    NumberNinetySeven => "number_97",
    NumberNinetyEight => "number_98",
    NumberNinetyNine => "number_99",
    NumberOneHundred => "number_100",
    NumberTwoHundred => "number_200",
    NumberThreeHundred => "number_300",
    NumberFourHundred => "number_400",
    NumberFiveHundred => "number_500",
    NumberSixHundred => "number_600",
    NumberSevenHundred => "number_700",
    NumberEightHundred => "number_800",
    NumberNineHundred => "number_900",
    NumberOneThousand => "number_1000",
    NumberTwoThousand => "number_2000",
    NumberThreeThousand => "number_3000",
    NumberFourThousand => "number_4000",
    NumberFiveThousand => "number_5000",
    NumberSixThousand => "number_6000",
    NumberSevenThousand => "number_7000",
    NumberEightThousand => "number_8000",
    NumberNineThousand => "number_9000",
    // Spanish only (`only = "es"`): "ciento" and the forms before a masculine noun ("veintiún").
    NumberOneHundredCompound => "number_100_compound",
    NumberOneMasculine => "number_1_masculine",
    NumberTwentyOneMasculine => "number_21_masculine",
    NumberThirtyOneMasculine => "number_31_masculine",
    NumberFortyOneMasculine => "number_41_masculine",
    NumberFiftyOneMasculine => "number_51_masculine",
    NumberSixtyOneMasculine => "number_61_masculine",
    NumberSeventyOneMasculine => "number_71_masculine",
    NumberEightyOneMasculine => "number_81_masculine",
    NumberNinetyOneMasculine => "number_91_masculine",
    // Days of the month (English ordinals; Spanish "seis de").
    DayFirst => "day_1",
    DaySecond => "day_2",
    DayThird => "day_3",
    DayFourth => "day_4",
    DayFifth => "day_5",
    DaySixth => "day_6",
    DaySeventh => "day_7",
    DayEighth => "day_8",
    DayNinth => "day_9",
    DayTenth => "day_10",
    DayEleventh => "day_11",
    DayTwelfth => "day_12",
    DayThirteenth => "day_13",
    DayFourteenth => "day_14",
    DayFifteenth => "day_15",
    DaySixteenth => "day_16",
    DaySeventeenth => "day_17",
    DayEighteenth => "day_18",
    DayNineteenth => "day_19",
    DayTwentieth => "day_20",
    DayTwentyFirst => "day_21",
    DayTwentySecond => "day_22",
    DayTwentyThird => "day_23",
    DayTwentyFourth => "day_24",
    DayTwentyFifth => "day_25",
    DayTwentySixth => "day_26",
    DayTwentySeventh => "day_27",
    DayTwentyEighth => "day_28",
    DayTwentyNinth => "day_29",
    DayThirtieth => "day_30",
    DayThirtyFirst => "day_31",
    // Weekdays and months.
    WeekdayMonday => "weekday_monday",
    WeekdayTuesday => "weekday_tuesday",
    WeekdayWednesday => "weekday_wednesday",
    WeekdayThursday => "weekday_thursday",
    WeekdayFriday => "weekday_friday",
    WeekdaySaturday => "weekday_saturday",
    WeekdaySunday => "weekday_sunday",
    MonthJanuary => "month_january",
    MonthFebruary => "month_february",
    MonthMarch => "month_march",
    MonthApril => "month_april",
    MonthMay => "month_may",
    MonthJune => "month_june",
    MonthJuly => "month_july",
    MonthAugust => "month_august",
    MonthSeptember => "month_september",
    MonthOctober => "month_october",
    MonthNovember => "month_november",
    MonthDecember => "month_december",
    // Times of day: the hour with its "at", minutes 1 to 9, English A.M./P.M., Spanish periods.
    AtHourOne => "at_hour_1",
    AtHourTwo => "at_hour_2",
    AtHourThree => "at_hour_3",
    AtHourFour => "at_hour_4",
    AtHourFive => "at_hour_5",
    AtHourSix => "at_hour_6",
    AtHourSeven => "at_hour_7",
    AtHourEight => "at_hour_8",
    AtHourNine => "at_hour_9",
    AtHourTen => "at_hour_10",
    AtHourEleven => "at_hour_11",
    AtHourTwelve => "at_hour_12",
    MinuteOhOne => "minute_01",
    MinuteOhTwo => "minute_02",
    MinuteOhThree => "minute_03",
    MinuteOhFour => "minute_04",
    MinuteOhFive => "minute_05",
    MinuteOhSix => "minute_06",
    MinuteOhSeven => "minute_07",
    MinuteOhEight => "minute_08",
    MinuteOhNine => "minute_09",
    Am => "am",
    Pm => "pm",
    PeriodEarlyMorning => "period_early_morning",
    PeriodMorning => "period_morning",
    PeriodNoon => "period_noon",
    PeriodAfternoon => "period_afternoon",
    PeriodNight => "period_night",
    // Message counts and envelopes.
    YouHave => "you_have",
    YouHaveNoMessages => "you_have_no_messages",
    NewMessage => "new_message",
    NewMessages => "new_messages",
    SavedMessage => "saved_message",
    SavedMessages => "saved_messages",
    And => "and",
    Received => "received",
    From => "from",
    FromUnknownCaller => "from_unknown_caller",
    // Hearing and managing messages.
    MessageMenu => "message_menu",
    MessageSaved => "message_saved",
    MessageDeleted => "message_deleted",
    NoMoreMessages => "no_more_messages",
    NoPreviousMessage => "no_previous_message",
    MessagesUnavailable => "messages_unavailable",
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
