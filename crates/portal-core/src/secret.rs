//! Passcodes as a type that cannot leak into logs.

use std::fmt;

/// The most digits any entry (passcode or mailbox number) may have; reaching it submits the entry.
pub const MAX_ENTRY_DIGITS: usize = 30;

/// A passcode: decimal digits only. `Debug` and `Display` print `***`, so a passcode never reaches a log line
/// by accident; the digits are reachable only through [`Passcode::expose`], which callers use to hash or compare.
#[derive(Clone, PartialEq, Eq)]
pub struct Passcode(String);

/// Why text is not a passcode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PasscodeSyntaxError {
    /// The text is empty.
    Empty,
    /// A character is not a decimal digit.
    NotADigit,
    /// More than [`MAX_ENTRY_DIGITS`] digits.
    TooLong,
}

impl fmt::Display for PasscodeSyntaxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PasscodeSyntaxError::Empty => "a passcode must have at least one digit",
            PasscodeSyntaxError::NotADigit => "a passcode may contain only the digits 0 to 9",
            PasscodeSyntaxError::TooLong => "a passcode may have at most 30 digits",
        })
    }
}

impl std::error::Error for PasscodeSyntaxError {}

impl Passcode {
    /// Parses digits typed by an administrator or a user (surrounding whitespace is ignored).
    pub fn parse(text: &str) -> Result<Passcode, PasscodeSyntaxError> {
        let digits = text.trim();
        if digits.is_empty() {
            return Err(PasscodeSyntaxError::Empty);
        }
        if !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(PasscodeSyntaxError::NotADigit);
        }
        if digits.len() > MAX_ENTRY_DIGITS {
            return Err(PasscodeSyntaxError::TooLong);
        }
        Ok(Passcode(digits.to_owned()))
    }

    /// The digits, for hashing and rule checks only. Never log them.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Number of digits.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Always false for a parsed passcode; present for API symmetry with `len`.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Passcode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Passcode(***)")
    }
}

impl fmt::Display for Passcode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formatting_hides_the_digits() {
        let passcode = Passcode::parse("135792").unwrap();
        assert_eq!(format!("{passcode}"), "***");
        assert_eq!(format!("{passcode:?}"), "Passcode(***)");
        assert_eq!(passcode.expose(), "135792");
    }

    #[test]
    fn parsing_accepts_digits_only() {
        assert_eq!(Passcode::parse(" 0123 \n").unwrap().expose(), "0123");
        assert_eq!(Passcode::parse(""), Err(PasscodeSyntaxError::Empty));
        assert_eq!(Passcode::parse("12a4"), Err(PasscodeSyntaxError::NotADigit));
        assert_eq!(
            Passcode::parse("12 34"),
            Err(PasscodeSyntaxError::NotADigit)
        );
        assert_eq!(
            Passcode::parse(&"1".repeat(31)),
            Err(PasscodeSyntaxError::TooLong)
        );
        assert!(Passcode::parse(&"1".repeat(30)).is_ok());
    }
}
