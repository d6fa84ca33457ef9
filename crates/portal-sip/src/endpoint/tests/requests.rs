//! Requests answered on their own merits: out-of-dialog methods, refusals (403, 405, 406, 420, 481, 488,
//! 503), broken and oddly written messages, Via stamping, and what the access policy decides.

use super::*;

#[test]
fn cancel_for_unknown_transaction_is_481() {
    let mut harness = Harness::new();
    harness.feed(&out_of_dialog("CANCEL", ""));
    assert_eq!(
        harness.sent_lines(),
        ["SIP/2.0 481 Call/Transaction Does Not Exist"]
    );
}

#[test]
fn options_lists_allow_and_accept() {
    let mut harness = Harness::new();
    harness.feed(&out_of_dialog("OPTIONS", ""));
    let sent = harness.sent();
    let text = String::from_utf8(sent[0].bytes.clone()).unwrap();
    assert!(text.starts_with("SIP/2.0 200 OK\r\n"));
    assert_eq!(header(&text, "Allow"), Some(ALLOWED_METHODS));
    assert_eq!(header(&text, "Accept"), Some("application/sdp"));
}

#[test]
fn an_unknown_method_is_501_and_a_known_one_the_portal_does_not_serve_is_405_both_with_allow() {
    let mut harness = Harness::new();
    harness.feed(&out_of_dialog("NEWMETHOD", ""));
    let text = String::from_utf8(harness.sent().remove(0).bytes).unwrap();
    assert!(
        text.starts_with("SIP/2.0 501 Not Implemented\r\n"),
        "{text}"
    );
    assert_eq!(header(&text, "Allow"), Some(ALLOWED_METHODS));
    assert_eq!(header(&text, "CSeq"), Some("5 NEWMETHOD"));
    harness.feed(&out_of_dialog("REGISTER", ""));
    let text = String::from_utf8(harness.sent().remove(0).bytes).unwrap();
    assert!(
        text.starts_with("SIP/2.0 405 Method Not Allowed\r\n"),
        "{text}"
    );
    assert_eq!(header(&text, "Allow"), Some(ALLOWED_METHODS));
}

#[test]
fn messages_in_and_out_are_counted_by_method_and_status() {
    let mut harness = Harness::new();
    harness.feed(&out_of_dialog("OPTIONS", ""));
    harness.feed(&out_of_dialog("NEWMETHOD", ""));
    harness.feed("not SIP at all\r\n\r\n");
    harness.sent();
    let statistics = harness.endpoint.statistics();
    assert_eq!(
        statistics.requests().collect::<Vec<_>>(),
        [
            (Direction::Received, "OPTIONS", 1),
            (Direction::Received, "other", 1)
        ]
    );
    assert_eq!(
        statistics.responses().collect::<Vec<_>>(),
        [(Direction::Sent, 200, 1), (Direction::Sent, 501, 1)]
    );
    assert_eq!(statistics.unreadable(), 1);
}

#[test]
fn unknown_required_extension_is_420_with_unsupported() {
    let mut harness = Harness::new();
    harness.feed(&out_of_dialog("OPTIONS", "Require: 100rel, foo\r\n"));
    let text = String::from_utf8(harness.sent().remove(0).bytes).unwrap();
    assert!(text.starts_with("SIP/2.0 420 Bad Extension\r\n"));
    assert_eq!(header(&text, "Unsupported"), Some("100rel, foo"));
}

#[test]
fn requests_in_unknown_dialogs_are_481() {
    let mut harness = Harness::new();
    harness.feed(&in_dialog("BYE", "z9hG4bKb", "nosuchtag", 2, "", "", ""));
    assert_eq!(
        harness.sent_lines(),
        ["SIP/2.0 481 Call/Transaction Does Not Exist"]
    );
}

#[test]
fn offer_without_g711_is_488() {
    let mut harness = Harness::new();
    let offer = OFFER.replace("RTP/AVP 0 8 101", "RTP/AVP 18 101");
    harness.feed(&invite("z9hG4bKg729", Some(&offer)));
    assert_eq!(harness.sent_lines(), ["SIP/2.0 488 Not Acceptable Here"]);
    assert!(harness.events().is_empty());
}

#[test]
fn refusing_new_calls_answers_503() {
    let mut harness = Harness::new();
    harness.endpoint.set_refusing_new_calls(true);
    harness.feed(&invite("z9hG4bKlate", Some(OFFER)));
    assert_eq!(harness.sent_lines(), ["SIP/2.0 503 Service Unavailable"]);
    assert!(harness.events().is_empty());
}

#[test]
fn broken_requests_are_answered_or_dropped() {
    let mut harness = Harness::new();
    // Body shorter than Content-Length: 400.
    let short =
        invite("z9hG4bKshort", Some(OFFER)).replacen("Content-Length: ", "Content-Length: 9", 1);
    harness.feed(&short);
    assert_eq!(harness.sent_lines(), ["SIP/2.0 400 Bad Request"]);
    // Another SIP version: 505.
    harness.feed(&out_of_dialog("OPTIONS", "").replace("SIP/2.0\r\n", "SIP/3.0\r\n"));
    assert_eq!(harness.sent_lines(), ["SIP/2.0 505 Version Not Supported"]);
    // No Call-ID: 400 all the same (RFC 4475 §3.3.1), without a Call-ID line.
    harness.feed(&out_of_dialog("OPTIONS", "").replace("Call-ID: ood@192.0.2.10\r\n", ""));
    let sent = harness.sent();
    let text = String::from_utf8(sent[0].bytes.clone()).unwrap();
    assert!(text.starts_with("SIP/2.0 400 Bad Request\r\n"), "{text}");
    assert_eq!(header(&text, "Call-ID"), None);
    assert_eq!(header(&text, "CSeq"), Some("5 OPTIONS"));
    // No CSeq: nothing the sender could match a response with.
    harness.feed(&out_of_dialog("OPTIONS", "").replace("CSeq: 5 OPTIONS\r\n", ""));
    assert!(harness.sent().is_empty());
    // Garbage and a response matching nothing.
    harness.feed("hello world\r\n\r\n");
    harness.feed("SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP h;branch=z9hG4bKx\r\nFrom: <sip:a@h>;tag=1\r\nTo: <sip:b@h>\r\nCall-ID: c\r\nCSeq: 1 BYE\r\n\r\n");
    assert!(harness.sent().is_empty());
    assert!(harness.events().is_empty());
    // Unsupported URI scheme: 416.
    harness.feed(&out_of_dialog("OPTIONS", "").replace(
        "OPTIONS sip:8000@198.51.100.1",
        "OPTIONS http://example.com/",
    ));
    assert_eq!(harness.sent_lines(), ["SIP/2.0 416 Unsupported URI Scheme"]);
}

#[test]
fn compact_headers_and_bare_line_feeds() {
    let mut harness = Harness::new();
    let compact = "INVITE sip:8000@198.51.100.1 SIP/2.0\n\
v: SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bKcompact\n\
f: <sip:1001@example.com>;tag=c1\n\
t: <sip:8000@example.com>\n\
i: compact@192.0.2.10\n\
CSeq: 1 INVITE\n\
m: <sip:1001@192.0.2.10:5062>\n\
c: application/sdp\n";
    let text = format!("{compact}l: {}\n\n{OFFER}", OFFER.len());
    harness.feed(&text);
    assert_eq!(harness.sent_lines(), ["SIP/2.0 100 Trying"]);
    let events = harness.events();
    let [Event::IncomingCall(call)] = events.as_slice() else {
        panic!("{events:?}")
    };
    assert_eq!(call.call_id, "compact@192.0.2.10");
    assert!(call.offer.is_some());
}

#[test]
fn received_and_rport_are_stamped_on_the_top_via() {
    let mut harness = Harness::new();
    let text = out_of_dialog("OPTIONS", "").replace(
        "192.0.2.10:5062;branch=z9hG4bKood",
        "phone.example.com;rport;branch=z9hG4bKood",
    );
    harness.feed_from("203.0.113.7:40123", &text);
    let sent = harness.sent();
    assert_eq!(sent[0].to, "203.0.113.7:40123".parse().unwrap());
    let response = String::from_utf8(sent[0].bytes.clone()).unwrap();
    assert_eq!(
        header(&response, "Via"),
        Some("SIP/2.0/UDP phone.example.com;rport=40123;branch=z9hG4bKood;received=203.0.113.7")
    );
    // Without rport, the response goes to the source address and the Via port.
    let text = out_of_dialog("OPTIONS", "").replace(
        "192.0.2.10:5062;branch=z9hG4bKood",
        "phone.example.com:5070;branch=z9hG4bKo2",
    );
    harness.feed_from("203.0.113.7:40123", &text);
    assert_eq!(harness.sent()[0].to, "203.0.113.7:5070".parse().unwrap());
}

#[test]
fn requests_from_outside_the_allowed_networks_get_403() {
    let mut h = harness_with(AccessPolicy {
        allowed: vec!["10.0.0.0/8".parse().unwrap()],
        ..AccessPolicy::default()
    });
    h.feed(&invite("z9hG4bKout1", Some(OFFER)));
    assert_eq!(h.sent_lines(), ["SIP/2.0 403 Forbidden"]);
    assert!(h.events().is_empty(), "no call is offered");
    h.feed(&out_of_dialog("OPTIONS", ""));
    assert_eq!(h.sent_lines(), ["SIP/2.0 403 Forbidden"]);
    let inside = out_of_dialog("OPTIONS", "").replace("z9hG4bKood", "z9hG4bKinside");
    h.feed_from("10.1.2.3:5060", &inside);
    assert_eq!(h.sent_lines(), ["SIP/2.0 200 OK"]);
}

#[test]
fn a_narrower_access_policy_keeps_calls_in_progress_and_refuses_new_requests() {
    let mut h = Harness::new();
    let (call, tag) = h.established();
    h.endpoint.set_access_policy(AccessPolicy {
        allowed: vec!["10.0.0.0/8".parse().unwrap()],
        ..AccessPolicy::default()
    });
    h.feed(&out_of_dialog("OPTIONS", ""));
    assert_eq!(h.sent_lines(), ["SIP/2.0 403 Forbidden"]);
    // A request in a dialog that does not exist is still refused for its network, not told 481.
    h.feed(&in_dialog(
        "BYE",
        "z9hG4bKbye0",
        "no-such-tag",
        2,
        "",
        "",
        "",
    ));
    assert_eq!(h.sent_lines(), ["SIP/2.0 403 Forbidden"]);
    h.feed(&in_dialog("BYE", "z9hG4bKbye1", &tag, 2, "", "", ""));
    assert_eq!(h.sent_lines(), ["SIP/2.0 200 OK"]);
    assert_eq!(
        h.events(),
        [Event::CallEnded {
            call,
            by_remote: true
        }]
    );
}

#[test]
fn a_source_over_the_invite_rate_gets_503_and_trusted_peers_are_exempt() {
    let mut h = harness_with(AccessPolicy {
        trusted: vec!["192.0.2.99".parse().unwrap()],
        invite_rate: Some(crate::access::RateLimit {
            per_second: 1.0,
            burst: 2,
        }),
        ..AccessPolicy::default()
    });
    for branch in ["z9hG4bKr1", "z9hG4bKr2"] {
        h.feed(&invite(branch, Some(OFFER)).replace("Call-ID: ", &format!("Call-ID: {branch}")));
        assert_eq!(h.sent_lines(), ["SIP/2.0 100 Trying"]);
    }
    h.feed(&invite("z9hG4bKr3", Some(OFFER)).replace("Call-ID: ", "Call-ID: r3"));
    let refused = h.sent();
    assert_eq!(
        first_line(&refused[0].bytes),
        "SIP/2.0 503 Service Unavailable"
    );
    assert!(String::from_utf8_lossy(&refused[0].bytes).contains("Retry-After: 5"));
    assert_eq!(h.events().len(), 2, "only the first two calls were offered");
    for branch in ["z9hG4bKt1", "z9hG4bKt2", "z9hG4bKt3", "z9hG4bKt4"] {
        h.feed_from(
            "192.0.2.99:5060",
            &invite(branch, Some(OFFER)).replace("Call-ID: ", &format!("Call-ID: {branch}")),
        );
        assert_eq!(
            h.sent_lines(),
            ["SIP/2.0 100 Trying"],
            "the trusted peer is never limited"
        );
    }
}

#[test]
fn a_flood_of_invites_gets_at_most_one_response_each_and_none_is_retransmitted() {
    let mut h = harness_with(AccessPolicy {
        invite_rate: Some(crate::access::RateLimit {
            per_second: 10.0,
            burst: 20,
        }),
        ..AccessPolicy::default()
    });
    // 2,000 INVITEs in 5 s from one source, none ACKed, as the attack run sent.
    let mut responses = 0;
    let mut refused = 0;
    let mut reported = Vec::new();
    for i in 0..2000u32 {
        h.now = h.start + Duration::from_micros(u64::from(i) * 2500);
        h.feed(
            &invite(&format!("z9hG4bKf{i}"), Some(OFFER))
                .replace("Call-ID: ", &format!("Call-ID: f{i}")),
        );
        let lines = h.sent_lines();
        assert!(lines.len() <= 1, "INVITE {i}: {lines:?}");
        refused += lines.iter().filter(|line| line.contains("503")).count();
        responses += lines.len();
        reported.extend(std::iter::from_fn(|| h.endpoint.poll_refusal()));
    }
    let counts = h.endpoint.rate_limited();
    assert_eq!(counts.refused as usize, refused);
    assert!(
        reported
            .iter()
            .all(|refusal| refusal.from.to_string() == "192.0.2.10"),
        "{reported:?}"
    );
    assert_eq!(
        reported
            .iter()
            .filter(|refusal| refusal.status == Some(503))
            .count(),
        refused,
        "each 503 reported for the security log"
    );
    assert!(
        reported.iter().any(|refusal| refusal.status.is_none()),
        "and the drops"
    );
    assert!(refused <= 21, "503s: {refused}");
    assert!(counts.dropped >= 1800, "{counts:?}");
    // Time passes: the admitted calls' 100 Trying is not resent, and no 503 ever is.
    let later = h.run_until(Duration::from_secs(40));
    assert!(
        later.iter().all(|(_, line)| !line.contains("503")),
        "{later:?}"
    );
    assert!(responses < 100, "{responses} responses to 2,000 INVITEs");
}

#[test]
fn p_asserted_identity_is_believed_only_from_trusted_peers() {
    let mut h = harness_with(AccessPolicy {
        trusted: vec!["192.0.2.99/32".parse().unwrap()],
        ..AccessPolicy::default()
    });
    let with_pai = |branch: &str| {
        invite(branch, Some(OFFER))
            .replace("Call-ID: ", &format!("Call-ID: {branch}"))
            .replace(
                "CSeq: ",
                "P-Asserted-Identity: \"Ann\" <sip:5551001@pbx.example>\r\nCSeq: ",
            )
    };
    h.feed_from("192.0.2.99:5060", &with_pai("z9hG4bKpai1"));
    h.feed(&with_pai("z9hG4bKpai2"));
    let asserted: Vec<Option<String>> = h
        .events()
        .into_iter()
        .filter_map(|event| match event {
            Event::IncomingCall(call) => Some(call.asserted_user),
            _ => None,
        })
        .collect();
    assert_eq!(asserted, [Some("5551001".to_owned()), None]);
}

#[test]
fn a_redirection_is_believed_only_from_trusted_peers() {
    let mut h = harness_with(AccessPolicy {
        trusted: vec!["192.0.2.99/32".parse().unwrap()],
        ..AccessPolicy::default()
    });
    let forwarded = |branch: &str| {
        invite(branch, Some(OFFER))
            .replace("Call-ID: ", &format!("Call-ID: {branch}"))
            .replace(
                "CSeq: ",
                "Diversion: <sip:5551001@pbx.example>;reason=user-busy;counter=1\r\n\
                 Priority: urgent\r\nCSeq: ",
            )
    };
    h.feed_from("192.0.2.99:5060", &forwarded("z9hG4bKdiv1"));
    h.feed(&forwarded("z9hG4bKdiv2"));
    let seen: Vec<_> = h
        .events()
        .into_iter()
        .filter_map(|event| match event {
            Event::IncomingCall(call) => Some((call.redirection, call.urgent)),
            _ => None,
        })
        .collect();
    let busy = crate::redirection::Redirection {
        target: "5551001".to_owned(),
        cause: crate::redirection::RedirectCause::Busy,
    };
    assert_eq!(seen, [(Some(busy), true), (None, true)]);
}

#[test]
fn the_caller_is_identified_by_a_trusted_assertion_or_by_from_only_on_the_declared_networks() {
    let mut h = harness_with(AccessPolicy {
        trusted: vec!["192.0.2.99/32".parse().unwrap()],
        identify_from: vec!["192.0.2.0/28".parse().unwrap()],
        ..AccessPolicy::default()
    });
    let call = |branch: &str, pai: bool| {
        let text = invite(branch, Some(OFFER)).replace("Call-ID: ", &format!("Call-ID: {branch}"));
        if pai {
            text.replace(
                "CSeq: ",
                "P-Asserted-Identity: <sip:5551002@pbx.example>\r\nCSeq: ",
            )
        } else {
            text
        }
    };
    h.feed_from("192.0.2.99:5060", &call("z9hG4bKid1", true)); // trusted peer: its assertion
    h.feed_from("192.0.2.10:5062", &call("z9hG4bKid2", false)); // declared network: From (1001)
    h.feed_from("192.0.2.200:5062", &call("z9hG4bKid3", false)); // elsewhere: nobody
    h.feed_from("192.0.2.201:5062", &call("z9hG4bKid4", true)); // elsewhere, asserting: still nobody
    let identified: Vec<Option<String>> = h
        .events()
        .into_iter()
        .filter_map(|event| match event {
            Event::IncomingCall(call) => Some(call.identified_user),
            _ => None,
        })
        .collect();
    assert_eq!(
        identified,
        [
            Some("5551002".to_owned()),
            Some("1001".to_owned()),
            None,
            None
        ]
    );
}

#[test]
fn invite_whose_accept_lacks_sdp_is_406() {
    // RFC 4475 §3.3.15 (sdp01): Accept: text/nobodyKnowsThis on an INVITE "could respond with a 406 Not
    // Acceptable"; our answers carry SDP only.
    let with_accept = |accept: &str| {
        invite("z9hG4bKacc", Some(OFFER))
            .replace("CSeq: 1 INVITE\r\n", &format!("CSeq: 1 INVITE\r\n{accept}"))
    };
    for refused in [
        "Accept: text/nobodyKnowsThis\r\n",
        "Accept: application/sdp;q=0, text/plain\r\n",
    ] {
        let mut harness = Harness::new();
        harness.feed(&with_accept(refused));
        assert_eq!(
            harness.sent_lines(),
            ["SIP/2.0 406 Not Acceptable"],
            "{refused}"
        );
        assert!(harness.events().is_empty());
    }
    for accepted in [
        "",
        "Accept: application/SDP\r\n",
        "Accept: text/plain, application/sdp;level=1\r\n",
        "Accept: text/plain\r\nAccept: application/sdp\r\n",
        "Accept: application/*\r\n",
        "Accept: */*;q=0.1\r\n",
        "Accept: \r\n",
    ] {
        let mut harness = Harness::new();
        harness.feed(&with_accept(accepted));
        assert_eq!(harness.sent_lines(), ["SIP/2.0 100 Trying"], "{accepted:?}");
        assert!(matches!(
            harness.events().as_slice(),
            [Event::IncomingCall(_)]
        ));
    }
}

#[test]
fn reinvite_whose_accept_lacks_sdp_is_406_in_the_dialog() {
    let mut harness = Harness::new();
    let (_, tag) = harness.established();
    harness.feed(&in_dialog(
        "INVITE",
        "z9hG4bKre406",
        &tag,
        2,
        "Accept: text/plain\r\n",
        "application/sdp",
        OFFER,
    ));
    let sent = harness.sent();
    let text = String::from_utf8(sent[0].bytes.clone()).unwrap();
    assert!(text.starts_with("SIP/2.0 406 Not Acceptable\r\n"), "{text}");
    assert_eq!(to_tag_of(&text), tag);
    assert!(harness.events().is_empty());
}

#[test]
fn invite_with_empty_via_parameters_is_400_echoing_a_clean_via() {
    // RFC 4475 §3.1.2.1 (badinv01).
    let mut harness = Harness::new();
    harness.feed(
        &invite("z9hG4bKbad", Some(OFFER))
            .replace(";branch=z9hG4bKbad\r\n", ";branch=z9hG4bKbad;;,;,,\r\n"),
    );
    let sent = harness.sent();
    assert_eq!(sent.len(), 1);
    let text = String::from_utf8(sent[0].bytes.clone()).unwrap();
    assert!(text.starts_with("SIP/2.0 400 Bad Request\r\n"), "{text}");
    let vias: Vec<&str> = text.lines().filter(|l| l.starts_with("Via:")).collect();
    assert_eq!(vias, ["Via: SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bKbad"]);
    assert!(harness.events().is_empty());
}

#[test]
fn another_sip_version_gets_505_at_the_via_address() {
    // RFC 4475 §3.1.2.16 (badvers): the 505 goes where the SIP/7.0 Via says (received, sent-by port).
    let mut harness = Harness::new();
    let request = out_of_dialog("OPTIONS", "")
        .replace(" SIP/2.0\r\n", " SIP/7.0\r\n")
        .replace(
            "SIP/2.0/UDP 192.0.2.10:5062",
            "SIP/7.0/UDP c.example.com:5070",
        );
    harness.feed(&request);
    let sent = harness.sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].to, "192.0.2.10:5070".parse().unwrap());
    let text = String::from_utf8(sent[0].bytes.clone()).unwrap();
    assert!(
        text.starts_with("SIP/2.0 505 Version Not Supported\r\n"),
        "{text}"
    );
    assert_eq!(
        header(&text, "Via"),
        Some("SIP/7.0/UDP c.example.com:5070;branch=z9hG4bKood;received=192.0.2.10")
    );
}

#[test]
fn repeated_single_valued_headers_are_400_and_list_headers_are_fine() {
    // RFC 4475 §3.3.8 (multi01): two Call-IDs (or To, From, CSeq, Max-Forwards) make the INVITE invalid.
    let mut harness = Harness::new();
    harness.feed(&invite("z9hG4bKdup", Some(OFFER)).replace(
        "CSeq: 1 INVITE\r\n",
        "CSeq: 1 INVITE\r\nCall-ID: other@192.0.2.2\r\n",
    ));
    assert_eq!(harness.sent_lines(), ["SIP/2.0 400 Bad Request"]);
    assert!(harness.events().is_empty());
    // What a phone behind two proxies sends: repeated Via, Record-Route, Allow, Supported lines.
    let mut harness = Harness::new();
    harness.feed(&invite("z9hG4bKphone", Some(OFFER)).replace(
        "Max-Forwards: 70\r\n",
        "Via: SIP/2.0/UDP 192.0.2.20:5060;branch=z9hG4bKp1;received=192.0.2.20\r\n\
Max-Forwards: 70\r\n\
Record-Route: <sip:192.0.2.10;lr>\r\nRecord-Route: <sip:192.0.2.20;lr>\r\n\
Allow: INVITE, ACK, CANCEL\r\nAllow: BYE, INFO\r\nSupported: replaces\r\nSupported: timer\r\n\
Accept: application/sdp\r\nAccept: application/dtmf-relay\r\n",
    ));
    assert_eq!(harness.sent_lines(), ["SIP/2.0 100 Trying"]);
    assert!(matches!(
        harness.events().as_slice(),
        [Event::IncomingCall(_)]
    ));
}
