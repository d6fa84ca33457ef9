//! Passcode rules: the organization's policy for which passcodes a user may choose, when a passcode expires
//! and how soon it may be changed again. Pure functions over a [`Passcode`] and [`Day`]s; the store keeps the
//! passcode history (hashes), so reuse is checked there and only named here.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::{Day, MAX_ENTRY_DIGITS, Passcode, PromptId};

/// Administrator-set passcode rules (organization policy); fields known from hosted PBXs.
///
/// Missing fields take their defaults when deserialized; unknown fields are rejected so a typo in the
/// configuration is an error rather than a silently ignored rule. Call [`PasscodeRules::validate`] after loading.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PasscodeRules {
    /// Fewest digits a passcode may have (default 6).
    pub min_length: u8,
    /// Most digits a passcode may have (default 30, never above [`MAX_ENTRY_DIGITS`]).
    pub max_length: u8,
    /// Longest allowed run of one digit (default 3: `111` is allowed, `1111` is not); 0 turns the rule off.
    pub max_repeated_digits: u8,
    /// Longest allowed run of digits each one above (or each one below) the previous, without wrapping
    /// from 9 to 0 (default 3: `123` is allowed, `1234` and `4321` are not); 0 turns the rule off.
    pub max_sequence_length: u8,
    /// Reject passcodes that repeat a block of two or more digits throughout, like `121212`, `123123` or `12121`
    /// (default true).
    pub forbid_repeated_patterns: bool,
    /// Reject passcodes equal to the user's extension, phone number or mailbox number, or to their reverse
    /// (default true).
    pub forbid_user_numbers: bool,
    /// How many previous passcodes (and their reverses) a new one may not repeat (default 3). The store checks
    /// this against its hashes; 0 turns the rule off.
    pub history_length: u8,
    /// Days after which a passcode expires and must be changed (default `None`: never).
    pub expiry_days: Option<u32>,
    /// Days a user must wait after setting a passcode before changing it again voluntarily (default `None`).
    pub min_days_between_changes: Option<u32>,
    /// Wrong passcodes in a row before the mailbox locks (default 4).
    pub failed_attempts_before_lockout: u32,
}

impl Default for PasscodeRules {
    fn default() -> PasscodeRules {
        PasscodeRules {
            min_length: 6,
            max_length: 30,
            max_repeated_digits: 3,
            max_sequence_length: 3,
            forbid_repeated_patterns: true,
            forbid_user_numbers: true,
            history_length: 3,
            expiry_days: None,
            min_days_between_changes: None,
            failed_attempts_before_lockout: 4,
        }
    }
}

impl PasscodeRules {
    /// The largest `history_length` [`validate`](PasscodeRules::validate) accepts: more history buys little
    /// and every stored hash is one more slow hash to compute on each change.
    pub const MAX_HISTORY_LENGTH: u8 = 10;

    /// Preset for the organization's default passcode: exactly 7 digits, other rules as default.
    pub fn exactly_seven_digits() -> PasscodeRules {
        PasscodeRules {
            min_length: 7,
            max_length: 7,
            ..PasscodeRules::default()
        }
    }

    /// Checks a candidate in this fixed order and returns the FIRST broken rule:
    /// TooShort, TooLong, RepeatedDigits, Sequence, RepeatedPattern, UserNumber.
    ///
    /// `user_numbers`: the user's extension, phone number, mailbox number (any text; only its digits count;
    /// ones without digits are ignored). Never returns [`RuleViolation::Reused`] or
    /// [`RuleViolation::ChangeTooSoon`]: those depend on the store and the dates.
    pub fn check(&self, candidate: &Passcode, user_numbers: &[&str]) -> Result<(), RuleViolation> {
        let digits = candidate.expose().as_bytes();
        if digits.len() < usize::from(self.min_length) {
            return Err(RuleViolation::TooShort);
        }
        if digits.len() > usize::from(self.max_length) {
            return Err(RuleViolation::TooLong);
        }
        if self.max_repeated_digits > 0
            && longest_run(digits, |a, b| a == b) > usize::from(self.max_repeated_digits)
        {
            return Err(RuleViolation::RepeatedDigits);
        }
        if self.max_sequence_length > 0 {
            // wrapping_sub keeps '9' -> '0' from counting as a step (it is 0xF7, not 1).
            let ascending = longest_run(digits, |a, b| b.wrapping_sub(a) == 1);
            let descending = longest_run(digits, |a, b| a.wrapping_sub(b) == 1);
            if ascending.max(descending) > usize::from(self.max_sequence_length) {
                return Err(RuleViolation::Sequence);
            }
        }
        if self.forbid_repeated_patterns && has_repeated_pattern(digits) {
            return Err(RuleViolation::RepeatedPattern);
        }
        if self.forbid_user_numbers
            && user_numbers
                .iter()
                .any(|number| matches_user_number(digits, number))
        {
            return Err(RuleViolation::UserNumber);
        }
        Ok(())
    }

    /// Is a passcode set on `set_on` expired on `today`? Never when `expiry_days` is `None`; otherwise once
    /// `today - set_on >= expiry_days` (a `set_on` in the future is not expired).
    pub fn is_expired(&self, set_on: Day, today: Day) -> bool {
        match self.expiry_days {
            None => false,
            Some(days) => today.days_since(set_on) >= i64::from(days),
        }
    }

    /// May the user voluntarily change a passcode set on `set_on` today? Always when `min_days_between_changes`
    /// is `None` or no date is known (`set_on` `None`); otherwise once `today - set_on >= min_days`.
    pub fn change_allowed(&self, set_on: Option<Day>, today: Day) -> bool {
        match (self.min_days_between_changes, set_on) {
            (Some(min_days), Some(set_on)) => today.days_since(set_on) >= i64::from(min_days),
            _ => true,
        }
    }

    /// Checks the rules themselves are coherent; used when an administrator sets the policy.
    ///
    /// Bounds, checked in this order (the first broken one is returned):
    /// - `min_length` at least 1 (an empty passcode is no passcode);
    /// - `max_length` at most [`MAX_ENTRY_DIGITS`] (30; the keypad entry ends there);
    /// - `min_length <= max_length`;
    /// - `failed_attempts_before_lockout` at least 1 (0 would lock every mailbox at once);
    /// - `history_length` at most [`PasscodeRules::MAX_HISTORY_LENGTH`] (10);
    /// - `expiry_days`, when set, at least 1 (0 would expire every passcode the day it is set);
    /// - `min_days_between_changes`, when both are set, below `expiry_days` (else an expired passcode could not
    ///   be changed).
    ///
    /// `min_days_between_changes = Some(0)` is accepted and means the same as `None`.
    pub fn validate(&self) -> Result<(), RulesError> {
        if self.min_length == 0 {
            return Err(RulesError::MinLengthZero);
        }
        if usize::from(self.max_length) > MAX_ENTRY_DIGITS {
            return Err(RulesError::MaxLengthAboveLimit {
                max_length: self.max_length,
            });
        }
        if self.min_length > self.max_length {
            return Err(RulesError::MinAboveMax {
                min_length: self.min_length,
                max_length: self.max_length,
            });
        }
        if self.failed_attempts_before_lockout == 0 {
            return Err(RulesError::NoFailedAttempts);
        }
        if self.history_length > PasscodeRules::MAX_HISTORY_LENGTH {
            return Err(RulesError::HistoryTooLong {
                history_length: self.history_length,
            });
        }
        if self.expiry_days == Some(0) {
            return Err(RulesError::ExpiryZero);
        }
        if let (Some(min_days), Some(expiry_days)) =
            (self.min_days_between_changes, self.expiry_days)
            && min_days >= expiry_days
        {
            return Err(RulesError::ChangeIntervalNotBelowExpiry {
                min_days_between_changes: min_days,
                expiry_days,
            });
        }
        Ok(())
    }
}

/// Length of the longest stretch where every adjacent pair satisfies `step` (1 for a single digit, 0 for none).
fn longest_run(digits: &[u8], step: impl Fn(u8, u8) -> bool) -> usize {
    let mut longest = usize::from(!digits.is_empty());
    let mut current = longest;
    for pair in digits.windows(2) {
        current = if step(pair[0], pair[1]) {
            current + 1
        } else {
            1
        };
        longest = longest.max(current);
    }
    longest
}

/// True when the whole passcode repeats with some period `p`, `2 <= p` and `2 * p <= len`. A passcode of one
/// digit throughout is left to the repeated-digits rule, so the two rules stay independent.
fn has_repeated_pattern(digits: &[u8]) -> bool {
    let Some(first) = digits.first() else {
        return false;
    };
    if digits.iter().all(|d| d == first) {
        return false;
    }
    (2..=digits.len() / 2).any(|p| digits[p..] == digits[..digits.len() - p])
}

/// True when the passcode equals the digits of `number` or their reverse; a number without digits never matches.
fn matches_user_number(digits: &[u8], number: &str) -> bool {
    let number: Vec<u8> = number.bytes().filter(u8::is_ascii_digit).collect();
    !number.is_empty() && (number == digits || number.iter().rev().eq(digits.iter()))
}

/// A passcode rule a candidate breaks. [`PasscodeRules::check`] returns the first six; `Reused` comes from the
/// store's history and `ChangeTooSoon` from the dates, so callers name every refusal with one type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RuleViolation {
    /// Fewer digits than `min_length`.
    TooShort,
    /// More digits than `max_length`.
    TooLong,
    /// A run of one digit longer than `max_repeated_digits`.
    RepeatedDigits,
    /// An ascending or descending run longer than `max_sequence_length`.
    Sequence,
    /// The whole passcode repeats a block of digits.
    RepeatedPattern,
    /// Equal to the user's extension, phone number or mailbox, or its reverse.
    UserNumber,
    /// One of the last `history_length` passcodes, or its reverse.
    Reused,
    /// Changed again before `min_days_between_changes` passed.
    ChangeTooSoon,
}

impl RuleViolation {
    /// The prompt that tells the caller which rule the passcode broke.
    pub fn prompt(self) -> PromptId {
        match self {
            RuleViolation::TooShort => PromptId::RuleTooShort,
            RuleViolation::TooLong => PromptId::RuleTooLong,
            RuleViolation::RepeatedDigits => PromptId::RuleRepeatedDigits,
            RuleViolation::Sequence => PromptId::RuleSequence,
            RuleViolation::RepeatedPattern => PromptId::RuleRepeatedPattern,
            RuleViolation::UserNumber => PromptId::RuleUserNumber,
            RuleViolation::Reused => PromptId::RuleReused,
            RuleViolation::ChangeTooSoon => PromptId::RuleChangeTooSoon,
        }
    }
}

impl fmt::Display for RuleViolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RuleViolation::TooShort => "the passcode has too few digits",
            RuleViolation::TooLong => "the passcode has too many digits",
            RuleViolation::RepeatedDigits => "the passcode repeats one digit too many times in a row",
            RuleViolation::Sequence => "the passcode has too long a run of ascending or descending digits",
            RuleViolation::RepeatedPattern => "the passcode repeats a pattern of digits",
            RuleViolation::UserNumber => {
                "the passcode is the user's extension, phone number or mailbox number, or its reverse"
            }
            RuleViolation::Reused => "the passcode was used recently",
            RuleViolation::ChangeTooSoon => "the passcode was changed too recently to change it again",
        })
    }
}

impl std::error::Error for RuleViolation {}

/// What is wrong with a set of rules; see [`PasscodeRules::validate`] for the bounds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RulesError {
    /// `min_length` is 0.
    MinLengthZero,
    /// `max_length` is above [`MAX_ENTRY_DIGITS`].
    MaxLengthAboveLimit {
        /// The configured maximum.
        max_length: u8,
    },
    /// `min_length` is above `max_length`.
    MinAboveMax {
        /// The configured minimum.
        min_length: u8,
        /// The configured maximum.
        max_length: u8,
    },
    /// `failed_attempts_before_lockout` is 0.
    NoFailedAttempts,
    /// `history_length` is above [`PasscodeRules::MAX_HISTORY_LENGTH`].
    HistoryTooLong {
        /// The configured history length.
        history_length: u8,
    },
    /// `expiry_days` is `Some(0)`.
    ExpiryZero,
    /// `min_days_between_changes` is not below `expiry_days`.
    ChangeIntervalNotBelowExpiry {
        /// The configured minimum days between changes.
        min_days_between_changes: u32,
        /// The configured expiry.
        expiry_days: u32,
    },
}

impl fmt::Display for RulesError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RulesError::MinLengthZero => f.write_str("min_length must be at least 1"),
            RulesError::MaxLengthAboveLimit { max_length } => {
                write!(
                    f,
                    "max_length is {max_length}, above the limit of {MAX_ENTRY_DIGITS} digits"
                )
            }
            RulesError::MinAboveMax {
                min_length,
                max_length,
            } => write!(
                f,
                "min_length ({min_length}) is above max_length ({max_length})"
            ),
            RulesError::NoFailedAttempts => {
                f.write_str("failed_attempts_before_lockout must be at least 1")
            }
            RulesError::HistoryTooLong { history_length } => write!(
                f,
                "history_length is {history_length}, above the limit of {}",
                PasscodeRules::MAX_HISTORY_LENGTH
            ),
            RulesError::ExpiryZero => f.write_str("expiry_days must be at least 1 when set"),
            RulesError::ChangeIntervalNotBelowExpiry {
                min_days_between_changes,
                expiry_days,
            } => write!(
                f,
                "min_days_between_changes ({min_days_between_changes}) must be below expiry_days ({expiry_days})"
            ),
        }
    }
}

impl std::error::Error for RulesError {}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn pc(digits: &str) -> Passcode {
        Passcode::parse(digits).unwrap()
    }

    /// Rules with every content rule off and any length 1..=30, so one rule can be switched on at a time.
    fn lenient() -> PasscodeRules {
        PasscodeRules {
            min_length: 1,
            max_length: 30,
            max_repeated_digits: 0,
            max_sequence_length: 0,
            forbid_repeated_patterns: false,
            forbid_user_numbers: false,
            ..PasscodeRules::default()
        }
    }

    fn check(rules: &PasscodeRules, digits: &str) -> Result<(), RuleViolation> {
        rules.check(&pc(digits), &[])
    }

    #[test]
    fn defaults_and_preset() {
        let rules = PasscodeRules::default();
        assert_eq!((rules.min_length, rules.max_length), (6, 30));
        assert_eq!(
            (rules.max_repeated_digits, rules.max_sequence_length),
            (3, 3)
        );
        assert!(rules.forbid_repeated_patterns && rules.forbid_user_numbers);
        assert_eq!(rules.history_length, 3);
        assert_eq!(
            (rules.expiry_days, rules.min_days_between_changes),
            (None, None)
        );
        assert_eq!(rules.failed_attempts_before_lockout, 4);
        assert_eq!(rules.validate(), Ok(()));

        let seven = PasscodeRules::exactly_seven_digits();
        assert_eq!((seven.min_length, seven.max_length), (7, 7));
        assert_eq!(
            PasscodeRules {
                min_length: 6,
                max_length: 30,
                ..seven.clone()
            },
            rules
        );
        assert_eq!(seven.validate(), Ok(()));
        assert_eq!(check(&seven, "135792"), Err(RuleViolation::TooShort));
        assert_eq!(check(&seven, "1357924"), Ok(()));
        assert_eq!(check(&seven, "13579246"), Err(RuleViolation::TooLong));
    }

    #[test]
    fn length_boundaries() {
        let rules = PasscodeRules {
            min_length: 4,
            max_length: 8,
            ..lenient()
        };
        assert_eq!(check(&rules, "135"), Err(RuleViolation::TooShort));
        assert_eq!(check(&rules, "1357"), Ok(()));
        assert_eq!(check(&rules, "13579246"), Ok(()));
        assert_eq!(check(&rules, "135792468"), Err(RuleViolation::TooLong));

        let defaults = PasscodeRules::default();
        assert_eq!(check(&defaults, "13579"), Err(RuleViolation::TooShort));
        assert_eq!(check(&defaults, "135792"), Ok(()));
        assert_eq!(check(&defaults, "135792468013579246801357924681"), Ok(()));
        let short_max = PasscodeRules {
            max_length: 29,
            ..defaults
        };
        assert_eq!(
            check(&short_max, "135792468013579246801357924681"),
            Err(RuleViolation::TooLong)
        );
    }

    #[test]
    fn repeated_digits() {
        let rules = PasscodeRules {
            max_repeated_digits: 3,
            ..lenient()
        };
        assert_eq!(check(&rules, "1112"), Ok(()));
        assert_eq!(check(&rules, "11112"), Err(RuleViolation::RepeatedDigits));
        assert_eq!(check(&rules, "21111"), Err(RuleViolation::RepeatedDigits));
        assert_eq!(check(&rules, "111"), Ok(()));
        assert_eq!(check(&rules, "1110111"), Ok(()));

        let strict = PasscodeRules {
            max_repeated_digits: 1,
            ..lenient()
        };
        assert_eq!(check(&strict, "1"), Ok(()));
        assert_eq!(check(&strict, "1213"), Ok(()));
        assert_eq!(check(&strict, "1223"), Err(RuleViolation::RepeatedDigits));

        assert_eq!(check(&lenient(), &"7".repeat(30)), Ok(()));
        assert_eq!(
            check(&PasscodeRules::default(), "511118"),
            Err(RuleViolation::RepeatedDigits)
        );
    }

    #[test]
    fn sequences() {
        let defaults = PasscodeRules::default();
        assert_eq!(check(&defaults, "123856"), Ok(()));
        assert_eq!(check(&defaults, "123485"), Err(RuleViolation::Sequence));
        assert_eq!(check(&defaults, "987123"), Ok(()));
        assert_eq!(check(&defaults, "976543"), Err(RuleViolation::Sequence));

        let two = PasscodeRules {
            max_sequence_length: 2,
            ..lenient()
        };
        // No wrap-around between 9 and 0.
        assert_eq!(check(&two, "890"), Ok(()));
        assert_eq!(check(&two, "1098"), Ok(()));
        assert_eq!(check(&two, "789"), Err(RuleViolation::Sequence));
        assert_eq!(check(&two, "210"), Err(RuleViolation::Sequence));
        // Equal digits are no sequence.
        assert_eq!(check(&two, "1111"), Ok(()));
        assert_eq!(check(&two, "112233"), Ok(()));

        let one = PasscodeRules {
            max_sequence_length: 1,
            ..lenient()
        };
        assert_eq!(check(&one, "1"), Ok(()));
        assert_eq!(check(&one, "1357"), Ok(()));
        assert_eq!(check(&one, "12"), Err(RuleViolation::Sequence));
        assert_eq!(check(&one, "21"), Err(RuleViolation::Sequence));

        assert_eq!(check(&lenient(), "0123456789"), Ok(()));
    }

    #[test]
    fn repeated_patterns() {
        let rules = PasscodeRules {
            forbid_repeated_patterns: true,
            ..lenient()
        };
        for periodic in ["121212", "123123", "12121", "112112", "1212", "905905905"] {
            assert_eq!(
                check(&rules, periodic),
                Err(RuleViolation::RepeatedPattern),
                "{periodic}"
            );
        }
        for aperiodic in ["1212123", "121", "12", "1", "1231234", "112111"] {
            assert_eq!(check(&rules, aperiodic), Ok(()), "{aperiodic}");
        }
        // One digit throughout is the repeated-digits rule's business only.
        assert_eq!(check(&rules, "111111"), Ok(()));
        assert_eq!(check(&lenient(), "121212"), Ok(()));
        assert_eq!(
            check(&PasscodeRules::default(), "135135"),
            Err(RuleViolation::RepeatedPattern)
        );
    }

    #[test]
    fn user_numbers() {
        // The example number holds the sequence 0123, so only the user-number rule is on here.
        let rules = PasscodeRules {
            forbid_user_numbers: true,
            ..lenient()
        };
        let numbers = ["+1 (555) 010-0123", "", "ext.", "4711"];
        assert_eq!(
            rules.check(&pc("15550100123"), &numbers),
            Err(RuleViolation::UserNumber)
        );
        assert_eq!(
            rules.check(&pc("32100105551"), &numbers),
            Err(RuleViolation::UserNumber)
        );
        assert_eq!(
            rules.check(&pc("1174"), &numbers),
            Err(RuleViolation::UserNumber)
        );
        // Only equality counts, not containment.
        assert_eq!(rules.check(&pc("5550100123"), &numbers), Ok(()));
        assert_eq!(rules.check(&pc("471"), &numbers), Ok(()));
        // Numbers without digits are ignored.
        assert_eq!(rules.check(&pc("15550100123"), &["", "x"]), Ok(()));

        let defaults = PasscodeRules::default();
        let numbers = ["2074", "+44 20 7946 0958", "0202"];
        assert_eq!(
            defaults.check(&pc("442079460958"), &numbers),
            Err(RuleViolation::UserNumber)
        );
        assert_eq!(
            defaults.check(&pc("859064970244"), &numbers),
            Err(RuleViolation::UserNumber)
        );
        assert_eq!(defaults.check(&pc("442079460959"), &numbers), Ok(()));
        let off = PasscodeRules {
            forbid_user_numbers: false,
            ..defaults
        };
        assert_eq!(off.check(&pc("442079460958"), &numbers), Ok(()));
    }

    #[test]
    fn first_broken_rule_wins() {
        let defaults = PasscodeRules::default();
        assert_eq!(check(&defaults, "1111"), Err(RuleViolation::TooShort));
        assert_eq!(
            check(&defaults, &"1".repeat(30)),
            Err(RuleViolation::RepeatedDigits)
        );
        let short_max = PasscodeRules {
            max_length: 8,
            ..defaults.clone()
        };
        assert_eq!(check(&short_max, "123412341"), Err(RuleViolation::TooLong));
        // 1111234 also holds the sequence 1234; repeated digits come first.
        assert_eq!(
            check(&defaults, "1111234"),
            Err(RuleViolation::RepeatedDigits)
        );
        // 12341234 is periodic too; the sequence rule comes first.
        assert_eq!(check(&defaults, "12341234"), Err(RuleViolation::Sequence));
        // 135135 is periodic and also a user number; the pattern comes first.
        assert_eq!(
            defaults.check(&pc("135135"), &["135135"]),
            Err(RuleViolation::RepeatedPattern)
        );
    }

    #[test]
    fn expiry() {
        let day = Day(20_000);
        assert!(!PasscodeRules::default().is_expired(day, day.plus_days(100_000)));
        let rules = PasscodeRules {
            expiry_days: Some(90),
            ..PasscodeRules::default()
        };
        assert!(!rules.is_expired(day, day));
        assert!(!rules.is_expired(day, day.plus_days(89)));
        assert!(rules.is_expired(day, day.plus_days(90)));
        assert!(rules.is_expired(day, day.plus_days(91)));
        assert!(!rules.is_expired(day, day.plus_days(-5)));
    }

    #[test]
    fn change_interval() {
        let day = Day(20_000);
        assert!(PasscodeRules::default().change_allowed(Some(day), day));
        let rules = PasscodeRules {
            min_days_between_changes: Some(1),
            ..PasscodeRules::default()
        };
        assert!(rules.change_allowed(None, day));
        assert!(!rules.change_allowed(Some(day), day));
        assert!(rules.change_allowed(Some(day), day.plus_days(1)));
        assert!(!rules.change_allowed(Some(day), day.plus_days(-1)));
        let zero = PasscodeRules {
            min_days_between_changes: Some(0),
            ..PasscodeRules::default()
        };
        assert!(zero.change_allowed(Some(day), day));
    }

    #[test]
    fn validation() {
        let ok = PasscodeRules::default();
        let with = |change: fn(&mut PasscodeRules)| {
            let mut rules = ok.clone();
            change(&mut rules);
            rules.validate()
        };
        assert_eq!(with(|r| r.min_length = 0), Err(RulesError::MinLengthZero));
        assert_eq!(
            with(|r| r.max_length = 31),
            Err(RulesError::MaxLengthAboveLimit { max_length: 31 })
        );
        assert_eq!(
            with(|r| {
                r.min_length = 9;
                r.max_length = 8;
            }),
            Err(RulesError::MinAboveMax {
                min_length: 9,
                max_length: 8
            })
        );
        assert_eq!(
            with(|r| {
                r.min_length = 1;
                r.max_length = 1;
            }),
            Ok(())
        );
        assert_eq!(
            with(|r| r.failed_attempts_before_lockout = 0),
            Err(RulesError::NoFailedAttempts)
        );
        assert_eq!(with(|r| r.failed_attempts_before_lockout = 1), Ok(()));
        assert_eq!(with(|r| r.history_length = 10), Ok(()));
        assert_eq!(with(|r| r.history_length = 0), Ok(()));
        assert_eq!(
            with(|r| r.history_length = 11),
            Err(RulesError::HistoryTooLong { history_length: 11 })
        );
        assert_eq!(
            with(|r| r.expiry_days = Some(0)),
            Err(RulesError::ExpiryZero)
        );
        assert_eq!(with(|r| r.expiry_days = Some(1)), Ok(()));
        assert_eq!(with(|r| r.min_days_between_changes = Some(0)), Ok(()));
        assert_eq!(
            with(|r| {
                r.expiry_days = Some(90);
                r.min_days_between_changes = Some(89);
            }),
            Ok(())
        );
        assert_eq!(
            with(|r| {
                r.expiry_days = Some(90);
                r.min_days_between_changes = Some(90);
            }),
            Err(RulesError::ChangeIntervalNotBelowExpiry {
                min_days_between_changes: 90,
                expiry_days: 90
            })
        );
        assert_eq!(
            RulesError::MinAboveMax {
                min_length: 9,
                max_length: 8
            }
            .to_string(),
            "min_length (9) is above max_length (8)"
        );
    }

    #[test]
    fn violations_map_to_prompts_and_messages() {
        let all = [
            RuleViolation::TooShort,
            RuleViolation::TooLong,
            RuleViolation::RepeatedDigits,
            RuleViolation::Sequence,
            RuleViolation::RepeatedPattern,
            RuleViolation::UserNumber,
            RuleViolation::Reused,
            RuleViolation::ChangeTooSoon,
        ];
        let prompts: Vec<_> = all.iter().map(|v| v.prompt().id()).collect();
        assert_eq!(
            prompts,
            [
                "rule_too_short",
                "rule_too_long",
                "rule_repeated_digits",
                "rule_sequence",
                "rule_repeated_pattern",
                "rule_user_number",
                "rule_reused",
                "rule_change_too_soon"
            ]
        );
        let mut messages: Vec<_> = all.iter().map(ToString::to_string).collect();
        assert_eq!(messages[0], "the passcode has too few digits");
        messages.sort();
        messages.dedup();
        assert_eq!(messages.len(), all.len());
    }

    #[test]
    fn toml_round_trip_defaults_and_unknown_fields() {
        let rules = PasscodeRules {
            expiry_days: Some(90),
            min_days_between_changes: Some(1),
            ..PasscodeRules::exactly_seven_digits()
        };
        let text = toml::to_string(&rules).unwrap();
        assert_eq!(toml::from_str::<PasscodeRules>(&text).unwrap(), rules);
        let defaults = PasscodeRules::default();
        let text = toml::to_string(&defaults).unwrap();
        assert_eq!(toml::from_str::<PasscodeRules>(&text).unwrap(), defaults);

        assert_eq!(toml::from_str::<PasscodeRules>("").unwrap(), defaults);
        let partial: PasscodeRules = toml::from_str("min_length = 8\nexpiry_days = 30\n").unwrap();
        assert_eq!(
            partial,
            PasscodeRules {
                min_length: 8,
                expiry_days: Some(30),
                ..PasscodeRules::default()
            }
        );
        let error = toml::from_str::<PasscodeRules>("min_lenght = 8\n").unwrap_err();
        assert!(error.to_string().contains("min_lenght"), "{error}");
    }

    /// The longest stretch of `digits` where each digit is `step` more than the one before, found by trying
    /// every start and extending: a different method from `longest_run`.
    fn longest_stretch(digits: &[u8], step: i16) -> usize {
        (0..digits.len())
            .map(|start| {
                1 + digits[start..]
                    .windows(2)
                    .take_while(|w| i16::from(w[1]) - i16::from(w[0]) == step)
                    .count()
            })
            .max()
            .unwrap_or(0)
    }

    fn any_rules() -> impl Strategy<Value = PasscodeRules> {
        (
            0u8..=32,
            0u8..=32,
            0u8..=8,
            0u8..=8,
            any::<bool>(),
            any::<bool>(),
        )
            .prop_map(
                |(min, max, repeated, sequence, patterns, users)| PasscodeRules {
                    min_length: min,
                    max_length: max,
                    max_repeated_digits: repeated,
                    max_sequence_length: sequence,
                    forbid_repeated_patterns: patterns,
                    forbid_user_numbers: users,
                    ..PasscodeRules::default()
                },
            )
    }

    proptest! {
        #[test]
        fn check_never_panics(
            rules in any_rules(),
            digits in "[0-9]{1,30}",
            numbers in proptest::collection::vec(".{0,20}", 0..4),
        ) {
            let numbers: Vec<&str> = numbers.iter().map(String::as_str).collect();
            let result = rules.check(&pc(&digits), &numbers);
            prop_assert!(!matches!(result, Err(RuleViolation::Reused | RuleViolation::ChangeTooSoon)));
        }

        #[test]
        fn passing_candidates_respect_run_limits(
            repeated in 0u8..=5,
            sequence in 0u8..=5,
            digits in "[0-9]{1,30}",
        ) {
            let rules = PasscodeRules {
                max_repeated_digits: repeated,
                max_sequence_length: sequence,
                ..lenient()
            };
            if rules.check(&pc(&digits), &[]).is_ok() {
                let bytes = digits.as_bytes();
                if repeated > 0 {
                    prop_assert!(longest_stretch(bytes, 0) <= usize::from(repeated));
                }
                if sequence > 0 {
                    prop_assert!(longest_stretch(bytes, 1) <= usize::from(sequence));
                    prop_assert!(longest_stretch(bytes, -1) <= usize::from(sequence));
                }
            }
        }

        #[test]
        fn passing_candidates_are_not_periodic(digits in "[0-9]{1,30}") {
            let rules = PasscodeRules { forbid_repeated_patterns: true, ..lenient() };
            if rules.check(&pc(&digits), &[]).is_ok() {
                let chars: Vec<char> = digits.chars().collect();
                let one_digit = chars.iter().all(|c| *c == chars[0]);
                for period in 2..=chars.len() / 2 {
                    let block: String = chars[..period].iter().collect();
                    let rebuilt: String =
                        block.repeat(chars.len() / period + 1).chars().take(chars.len()).collect();
                    prop_assert!(one_digit || rebuilt != digits, "period {period}");
                }
            }
        }

        #[test]
        fn repeated_blocks_are_refused(block in "[0-9]{2,10}", extra in 0usize..=10) {
            let rules = PasscodeRules { forbid_repeated_patterns: true, ..lenient() };
            let len = (2 * block.len() + extra).min(MAX_ENTRY_DIGITS);
            let digits: String = block.repeat(4).chars().take(len).collect();
            let one_digit = digits.bytes().all(|d| d == digits.as_bytes()[0]);
            let expected = if one_digit { Ok(()) } else { Err(RuleViolation::RepeatedPattern) };
            prop_assert_eq!(rules.check(&pc(&digits), &[]), expected);
        }

        #[test]
        fn length_outside_bounds_fails(
            min in 1u8..=30,
            max in 1u8..=30,
            digits in "[0-9]{1,30}",
        ) {
            let (min, max) = (min.min(max), min.max(max));
            let rules = PasscodeRules { min_length: min, max_length: max, ..PasscodeRules::default() };
            let result = rules.check(&pc(&digits), &[]);
            if digits.len() < usize::from(min) {
                prop_assert_eq!(result, Err(RuleViolation::TooShort));
            } else if digits.len() > usize::from(max) {
                prop_assert_eq!(result, Err(RuleViolation::TooLong));
            } else {
                prop_assert!(!matches!(result, Err(RuleViolation::TooShort | RuleViolation::TooLong)));
            }
        }

        #[test]
        fn user_number_and_its_reverse_are_refused(
            rules in any_rules(),
            number in "[0-9]{1,30}",
            separator in "[ ()+.-]{0,2}",
        ) {
            let rules = PasscodeRules { forbid_user_numbers: true, ..rules };
            let without = PasscodeRules { forbid_user_numbers: false, ..rules.clone() };
            let candidate = pc(&number);
            if without.check(&candidate, &[]).is_ok() {
                let reversed: String = number.chars().rev().collect();
                let formatted: String = number
                    .chars()
                    .flat_map(|c| std::iter::once(c).chain(separator.chars()))
                    .collect();
                for given in [number.as_str(), reversed.as_str(), formatted.as_str()] {
                    prop_assert_eq!(rules.check(&candidate, &[given]), Err(RuleViolation::UserNumber));
                }
            }
        }
    }
}
