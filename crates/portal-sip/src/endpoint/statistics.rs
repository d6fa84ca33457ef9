//! Counts of SIP messages in and out, by request method and response status, for an operator's metrics.
//!
//! The endpoint counts what it reads and what it hands out to send (retransmissions included: they cross the
//! wire too). Method names outside the standard set are counted as `other`, so a sender cannot make up label
//! values; statuses are three digits (100-699), a bounded set.

use std::collections::BTreeMap;

use crate::syntax::Method;

/// Which way a message went.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Direction {
    /// Read from the network.
    Received,
    /// Handed to the driver to send.
    Sent,
}

/// Messages counted so far, never reset.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SipStatistics {
    requests: BTreeMap<(Direction, &'static str), u64>,
    responses: BTreeMap<(Direction, u16), u64>,
    unreadable: u64,
}

impl SipStatistics {
    /// Requests by direction and method (`other` for any method outside the standard set).
    pub fn requests(&self) -> impl Iterator<Item = (Direction, &'static str, u64)> + '_ {
        self.requests
            .iter()
            .map(|(&(direction, method), &count)| (direction, method, count))
    }

    /// Responses by direction and status.
    pub fn responses(&self) -> impl Iterator<Item = (Direction, u16, u64)> + '_ {
        self.responses
            .iter()
            .map(|(&(direction, status), &count)| (direction, status, count))
    }

    /// Datagrams or framed messages that could not be read as SIP.
    pub fn unreadable(&self) -> u64 {
        self.unreadable
    }

    pub(super) fn request(&mut self, direction: Direction, method: &Method) {
        *self
            .requests
            .entry((direction, method_label(method)))
            .or_default() += 1;
    }

    pub(super) fn response(&mut self, direction: Direction, status: u16) {
        if (100..700).contains(&status) {
            *self.responses.entry((direction, status)).or_default() += 1;
        }
    }

    pub(super) fn unreadable_message(&mut self) {
        self.unreadable += 1;
    }

    /// Counts bytes the endpoint built: a status line or a request line (CRLF keep-alives are neither).
    pub(super) fn sent(&mut self, bytes: &[u8]) {
        let line_end = bytes
            .iter()
            .position(|&byte| byte == b' ')
            .unwrap_or(bytes.len());
        let Ok(first) = std::str::from_utf8(&bytes[..line_end]) else {
            return;
        };
        if first == "SIP/2.0" {
            let status = bytes
                .get(line_end + 1..line_end + 4)
                .and_then(|digits| std::str::from_utf8(digits).ok())
                .and_then(|digits| digits.parse().ok());
            if let Some(status) = status {
                self.response(Direction::Sent, status);
            }
        } else if let Some(method) = Method::parse(first) {
            self.request(Direction::Sent, &method);
        }
    }
}

/// The label a method is counted under.
fn method_label(method: &Method) -> &'static str {
    method.standard_name().unwrap_or("other")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sent_bytes_are_counted_by_their_first_line() {
        let mut statistics = SipStatistics::default();
        statistics.sent(b"SIP/2.0 200 OK\r\nVia: x\r\n\r\n");
        statistics.sent(b"SIP/2.0 200 OK\r\n\r\n");
        statistics.sent(b"BYE sip:a@b SIP/2.0\r\n\r\n");
        statistics.sent(b"\r\n\r\n");
        statistics.sent(b"SIP/2.0 9");
        assert_eq!(
            statistics.responses().collect::<Vec<_>>(),
            vec![(Direction::Sent, 200, 2)]
        );
        assert_eq!(
            statistics.requests().collect::<Vec<_>>(),
            vec![(Direction::Sent, "BYE", 1)]
        );
    }

    #[test]
    fn made_up_methods_and_statuses_add_no_label() {
        let mut statistics = SipStatistics::default();
        statistics.request(Direction::Received, &Method::Extension("X-5551001".into()));
        statistics.request(Direction::Received, &Method::Extension("FOO".into()));
        statistics.response(Direction::Received, 999);
        statistics.response(Direction::Received, 42);
        assert_eq!(
            statistics.requests().collect::<Vec<_>>(),
            vec![(Direction::Received, "other", 2)]
        );
        assert_eq!(statistics.responses().count(), 0);
    }
}
