//! Random passcodes from the OS generator that satisfy the policy's rules.

use portal_core::Passcode;
use portal_core::rules::PasscodeRules;

use crate::error::{Result, StoreError};
use crate::sealing::fill_random;

/// Length of generated passcodes when the rules allow it: long enough to resist guessing within the lockout,
/// short enough to type.
const PREFERRED_LENGTH: u8 = 7;
/// Candidates tried before giving up on rules that leave (almost) nothing.
const MAX_TRIES: usize = 10_000;

/// A uniformly random passcode of the preferred length (clamped to the rules) that passes `rules.check`
/// with these user numbers.
pub fn generate_passcode(rules: &PasscodeRules, user_numbers: &[&str]) -> Result<Passcode> {
    let length = PREFERRED_LENGTH.clamp(rules.min_length.max(1), rules.max_length.max(1));
    for _ in 0..MAX_TRIES {
        let candidate = random_digits(usize::from(length))?;
        let passcode = Passcode::parse(&candidate).map_err(|_| StoreError::CannotGenerate)?;
        if rules.check(&passcode, user_numbers).is_ok() {
            return Ok(passcode);
        }
    }
    Err(StoreError::CannotGenerate)
}

/// Digits by rejection sampling, so each digit is exactly uniform (bytes 250..=255 are dropped).
fn random_digits(length: usize) -> Result<String> {
    let mut digits = String::with_capacity(length);
    let mut buffer = [0u8; 32];
    while digits.len() < length {
        fill_random(&mut buffer)?;
        for byte in buffer {
            if byte < 250 && digits.len() < length {
                digits.push(char::from(b'0' + byte % 10));
            }
        }
    }
    Ok(digits)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_passcodes_pass_the_rules_and_differ() {
        let rules = PasscodeRules::default();
        let numbers = ["4711", "+15551234567", "8001"];
        let first = generate_passcode(&rules, &numbers).unwrap();
        assert_eq!(first.len(), 7);
        assert!(rules.check(&first, &numbers).is_ok());
        let many: std::collections::HashSet<String> = (0..50)
            .map(|_| {
                generate_passcode(&rules, &numbers)
                    .unwrap()
                    .expose()
                    .to_owned()
            })
            .collect();
        assert!(many.len() >= 49, "random passcodes repeat too often");
    }

    #[test]
    fn length_follows_the_rules() {
        let long = PasscodeRules {
            min_length: 10,
            max_length: 12,
            ..PasscodeRules::default()
        };
        assert_eq!(generate_passcode(&long, &[]).unwrap().len(), 10);
        let short = PasscodeRules {
            min_length: 4,
            max_length: 5,
            ..PasscodeRules::default()
        };
        assert_eq!(generate_passcode(&short, &[]).unwrap().len(), 5);
    }

    #[test]
    fn impossible_rules_give_an_error() {
        // One digit, no repeats of a single digit is fine, but every 1-digit passcode is a user number.
        let rules = PasscodeRules {
            min_length: 1,
            max_length: 1,
            ..PasscodeRules::default()
        };
        let all: Vec<String> = (0..10).map(|d| d.to_string()).collect();
        let numbers: Vec<&str> = all.iter().map(String::as_str).collect();
        assert!(matches!(
            generate_passcode(&rules, &numbers),
            Err(StoreError::CannotGenerate)
        ));
    }
}
