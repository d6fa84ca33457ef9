//! Four wrong passcodes in a row lock the mailbox across calls, until an administrator resets it (seed: "Four
//! wrong passcodes in a row lock the portal for that mailbox, across calls"). Also run over a bad network:
//! SIP loss (retransmissions), latency, jitter and lost RTP from the phone (RFC 4733's repeated packets).

use std::time::Duration;

use portal_core::PromptId as P;

use crate::support::network::LinkConfig;
use crate::support::{Pair, PairOptions, PhoneId};

/// Three wrong passcodes in one call, a fourth in the next (which locks), then the right one (refused).
fn lock_mailbox_1001_over_two_calls_then_try_the_right_passcode(pair: &mut Pair) -> [PhoneId; 3] {
    let first = pair.call("5551001", "5558000");
    pair.hears(first, P::Welcome);
    for _ in 0..3 {
        pair.press(first, "1111111#")
            .hears(first, P::PasscodeIncorrect)
            .hears(first, P::EnterPasscode);
    }
    pair.hang_up(first).until_over(first);

    let second = pair.call("5551001", "5558000");
    pair.hears(second, P::Welcome)
        .press(second, "2222222#")
        .hears(second, P::LockedOut)
        .hears(second, P::Goodbye)
        .until_over(second);

    let third = pair.call("5551001", "5558000");
    pair.hears(third, P::Welcome)
        .press(third, "1357924#")
        .hears(third, P::LockedOut)
        .until_over(third);
    [first, second, third]
}

fn assert_locked_after_exactly_four(pair: &Pair, [first, second, third]: [PhoneId; 3]) {
    assert_eq!(
        pair.transcript(first),
        [
            "welcome (cut)",
            "passcode_incorrect",
            "enter_passcode (cut)",
            "passcode_incorrect",
            "enter_passcode (cut)",
            "passcode_incorrect",
            "enter_passcode (cut)",
        ]
    );
    assert_eq!(
        pair.transcript(second),
        ["welcome (cut)", "locked_out", "goodbye"]
    );
    assert_eq!(
        pair.transcript(third),
        ["welcome (cut)", "locked_out", "goodbye"]
    );
    let audit = pair.audit_kinds("1001");
    let count = |kind: &str| audit.iter().filter(|entry| *entry == kind).count();
    assert_eq!(count("login_failed"), 4, "{audit:?}");
    assert_eq!(count("locked"), 1, "{audit:?}");
    assert_eq!(count("login_refused_locked"), 1, "{audit:?}");
    assert_eq!(count("login_ok"), 0, "{audit:?}");
}

#[test]
fn four_wrong_passcodes_over_two_calls_lock_the_mailbox_even_for_the_right_one() {
    let mut pair = Pair::new(PairOptions::default());
    let phones = lock_mailbox_1001_over_two_calls_then_try_the_right_passcode(&mut pair);
    assert_locked_after_exactly_four(&pair, phones);
}

/// A pair over a network with 40 ms latency, 30 ms jitter, 20 % SIP loss, and one RTP packet in five from the
/// phones lost (the portal's prompts arrive whole, so transcripts can be compared frame for frame).
fn lossy_pair(seed: u64) -> Pair {
    let mut pair = Pair::new(PairOptions {
        link: LinkConfig {
            latency: Duration::from_millis(40),
            jitter: Duration::from_millis(30),
            sip_loss: 0.2,
            rtp_loss: 0.0,
            seed,
        },
        ..PairOptions::default()
    });
    let mut count = 0u64;
    pair.network.set_drop_filter(Some(Box::new(move |datagram| {
        let from_phone = datagram.from.ip().to_string().starts_with("10.0.1.");
        count += 1;
        from_phone && datagram.is_rtp() && count.is_multiple_of(5)
    })));
    pair
}

#[test]
fn the_lockout_is_the_same_over_a_lossy_jittery_network() {
    let mut pair = lossy_pair(7);
    let phones = lock_mailbox_1001_over_two_calls_then_try_the_right_passcode(&mut pair);
    assert_locked_after_exactly_four(&pair, phones);
    assert!(pair.network.lost() > 100, "{} lost", pair.network.lost());
}

#[test]
fn the_same_seed_gives_the_same_calls_to_the_packet() {
    let run = |seed| {
        let mut pair = lossy_pair(seed);
        let phones = lock_mailbox_1001_over_two_calls_then_try_the_right_passcode(&mut pair);
        let transcripts: Vec<Vec<String>> =
            phones.iter().map(|phone| pair.transcript(*phone)).collect();
        (
            transcripts,
            pair.elapsed(),
            pair.network.sent(),
            pair.network.lost(),
        )
    };
    let first = run(11);
    assert_eq!(first, run(11));
    assert_ne!(
        (first.1, first.2, first.3),
        {
            let other = run(12);
            (other.1, other.2, other.3)
        },
        "another seed, another network"
    );
}
