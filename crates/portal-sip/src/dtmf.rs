//! Key presses carried in SIP INFO bodies: `application/dtmf-relay` (`Signal=5`, `Duration=160`) and
//! `application/dtmf` (the body is the key).

use std::time::Duration;

/// One key press from an INFO request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InfoDigit {
    /// `0`-`9`, `*`, `#` or `A`-`D`.
    pub digit: char,
    pub duration: Option<Duration>,
}

/// Reads a key: the character itself, or its RFC 4733 event number (10 = `*`, 11 = `#`, 12-15 = `A`-`D`).
fn read_key(text: &str) -> Option<char> {
    let text = text.trim();
    let mut chars = text.chars();
    if let (Some(single), None) = (chars.next(), chars.next()) {
        let upper = single.to_ascii_uppercase();
        if upper.is_ascii_digit() || matches!(upper, '*' | '#' | 'A'..='D') {
            return Some(upper);
        }
    }
    match text.parse::<u8>().ok()? {
        10 => Some('*'),
        11 => Some('#'),
        event @ 12..=15 => Some((b'A' + event - 12) as char),
        _ => None,
    }
}

/// `Signal=5\r\nDuration=160\r\n`; keys are case-insensitive.
pub fn parse_dtmf_relay(body: &str) -> Option<InfoDigit> {
    let mut digit = None;
    let mut duration = None;
    for line in body.lines() {
        let Some((name, value)) = line.split_once('=') else {
            continue;
        };
        match name.trim().to_ascii_lowercase().as_str() {
            "signal" => digit = read_key(value),
            "duration" => duration = value.trim().parse().ok().map(Duration::from_millis),
            _ => {}
        }
    }
    Some(InfoDigit {
        digit: digit?,
        duration,
    })
}

/// The body is the key alone.
pub fn parse_dtmf(body: &str) -> Option<InfoDigit> {
    Some(InfoDigit {
        digit: read_key(body)?,
        duration: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dtmf_relay_bodies() {
        let press = parse_dtmf_relay("Signal=5\r\nDuration=160\r\n").unwrap();
        assert_eq!(
            press,
            InfoDigit {
                digit: '5',
                duration: Some(Duration::from_millis(160))
            }
        );
        assert_eq!(
            parse_dtmf_relay("signal= #\nduration=100").unwrap().digit,
            '#'
        );
        assert_eq!(parse_dtmf_relay("Signal=11\r\n").unwrap().digit, '#');
        assert_eq!(parse_dtmf_relay("Signal=b").unwrap().digit, 'B');
        assert!(parse_dtmf_relay("Duration=160").is_none());
        assert!(parse_dtmf_relay("Signal=x").is_none());
    }

    #[test]
    fn dtmf_bodies() {
        assert_eq!(parse_dtmf("7").unwrap().digit, '7');
        assert_eq!(parse_dtmf(" *\r\n").unwrap().digit, '*');
        assert_eq!(parse_dtmf("10").unwrap().digit, '*');
        assert!(parse_dtmf("16").is_none());
        assert!(parse_dtmf("").is_none());
    }
}
