use super::*;

const OFFER: &str = "v=0\r\n\
o=alice 2890844526 2890844526 IN IP4 192.0.2.10\r\n\
s=-\r\n\
c=IN IP4 192.0.2.10\r\n\
t=0 0\r\n\
m=audio 49170 RTP/AVP 8 0 96\r\n\
a=rtpmap:8 PCMA/8000\r\n\
a=rtpmap:0 PCMU/8000\r\n\
a=rtpmap:96 telephone-event/8000\r\n\
a=fmtp:96 0-16\r\n\
a=ptime:20\r\n\
a=sendrecv\r\n";

fn local() -> LocalMedia {
    LocalMedia::new("198.51.100.1:40000".parse().unwrap(), 7)
}

#[test]
fn parses_audio_offer() {
    let offer = SessionDescription::parse(OFFER).unwrap();
    assert_eq!(offer.origin.username, "alice");
    assert_eq!(offer.connection, Some("192.0.2.10".parse().unwrap()));
    let audio = &offer.media[0];
    assert_eq!(audio.port, 49170);
    assert_eq!(audio.formats, ["8", "0", "96"]);
    assert_eq!(audio.rtpmaps.len(), 3);
    assert_eq!(audio.fmtps, [(96, "0-16".to_owned())]);
    assert_eq!(audio.ptime, Some(20));
    assert_eq!(audio.direction, Some(Direction::SendRecv));
}

#[test]
fn prints_what_it_parsed() {
    let offer = SessionDescription::parse(OFFER).unwrap();
    let again = SessionDescription::parse(&offer.to_string()).unwrap();
    assert_eq!(offer, again);
}

#[test]
fn answer_follows_offerers_preference_and_telephone_event_pt() {
    let offer = SessionDescription::parse(OFFER).unwrap();
    let (answer, media) = negotiate(&offer, &local()).unwrap();
    assert_eq!(media.codec, Codec::Pcma);
    assert_eq!(media.payload_type, 8);
    assert_eq!(media.telephone_event_pt, Some(96));
    assert_eq!(media.remote_rtp, "192.0.2.10:49170".parse().unwrap());
    assert_eq!(media.direction, Direction::SendRecv);
    let text = answer.to_string();
    assert!(text.contains("m=audio 40000 RTP/AVP 8 96\r\n"), "{text}");
    assert!(text.contains("c=IN IP4 198.51.100.1\r\n"));
    assert!(text.contains("a=rtpmap:96 telephone-event/8000\r\n"));
    assert!(text.contains("a=ptime:20\r\n"));
    assert!(!text.contains("101"));
}

#[test]
fn static_payload_types_without_rtpmap() {
    let offer = "v=0\no=- 1 1 IN IP4 192.0.2.1\ns=-\nc=IN IP4 192.0.2.1\nt=0 0\nm=audio 5004 RTP/AVP 18 0\n";
    let (_, media) = negotiate(&SessionDescription::parse(offer).unwrap(), &local()).unwrap();
    assert_eq!(media.codec, Codec::Pcmu);
    assert_eq!(media.telephone_event_pt, None);
}

#[test]
fn unsupported_streams_are_refused_with_port_zero() {
    let offer = "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nt=0 0\r\n\
m=video 5006 RTP/AVP 31\r\nc=IN IP4 192.0.2.1\r\n\
m=audio 5004 RTP/AVP 0\r\nc=IN IP4 192.0.2.1\r\n";
    let (answer, media) = negotiate(&SessionDescription::parse(offer).unwrap(), &local()).unwrap();
    assert_eq!(answer.media.len(), 2);
    assert_eq!(answer.media[0].port, 0);
    assert_eq!(answer.media[0].formats, ["31"]);
    assert_eq!(answer.media[1].port, 40000);
    assert_eq!(media.remote_rtp, "192.0.2.1:5004".parse().unwrap());
    // Known before the answer, and the same.
    assert_eq!(
        offered_rtp_address(&SessionDescription::parse(offer).unwrap()),
        Some(media.remote_rtp)
    );
}

#[test]
fn no_supported_codec_is_488() {
    let offer = "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\nm=audio 5004 RTP/AVP 18 9\r\n";
    let offer = SessionDescription::parse(offer).unwrap();
    assert!(!offer_is_acceptable(&offer));
    let error = negotiate(&offer, &local()).unwrap_err();
    assert_eq!(error, NegotiationError::NoSupportedCodec);
    assert_eq!(error.status_code(), 488);
}

#[test]
fn directions_are_mirrored_and_old_hold_is_understood() {
    for (offered, answered) in [
        ("sendonly", Direction::RecvOnly),
        ("recvonly", Direction::SendOnly),
        ("inactive", Direction::Inactive),
        ("sendrecv", Direction::SendRecv),
    ] {
        let offer = OFFER.replace("a=sendrecv", &format!("a={offered}"));
        let (answer, media) =
            negotiate(&SessionDescription::parse(&offer).unwrap(), &local()).unwrap();
        assert_eq!(media.direction, answered);
        assert!(
            answer
                .to_string()
                .contains(&format!("a={}\r\n", answered.as_str()))
        );
    }
    let held = OFFER.replace("c=IN IP4 192.0.2.10", "c=IN IP4 0.0.0.0");
    let (_, media) = negotiate(&SessionDescription::parse(&held).unwrap(), &local()).unwrap();
    assert!(media.is_on_hold());
}

#[test]
fn ipv6_connection_lines() {
    let offer = OFFER.replace("IN IP4 192.0.2.10", "IN IP6 2001:db8::10");
    let local = LocalMedia::new("[2001:db8::1]:40000".parse().unwrap(), 1);
    let (answer, media) = negotiate(&SessionDescription::parse(&offer).unwrap(), &local).unwrap();
    assert_eq!(media.remote_rtp, "[2001:db8::10]:49170".parse().unwrap());
    assert!(answer.to_string().contains("c=IN IP6 2001:db8::1\r\n"));
}

#[test]
fn media_level_connection_overrides_session_level() {
    let offer = OFFER.replace(
        "m=audio 49170 RTP/AVP 8 0 96\r\n",
        "m=audio 49170 RTP/AVP 8 0 96\r\nc=IN IP4 203.0.113.5\r\n",
    );
    let (_, media) = negotiate(&SessionDescription::parse(&offer).unwrap(), &local()).unwrap();
    assert_eq!(
        media.remote_rtp.ip(),
        "203.0.113.5".parse::<IpAddr>().unwrap()
    );
}

#[test]
fn our_offer_and_its_answer() {
    let offer = make_offer(&local());
    let text = offer.to_string();
    assert!(text.contains("m=audio 40000 RTP/AVP 0 8 101\r\n"), "{text}");
    let answer = "v=0\r\no=- 1 1 IN IP4 192.0.2.7\r\ns=-\r\nc=IN IP4 192.0.2.7\r\nt=0 0\r\n\
m=audio 6000 RTP/AVP 8 101\r\na=rtpmap:101 telephone-event/8000\r\na=recvonly\r\n";
    let media =
        negotiated_from_answer(&offer, &SessionDescription::parse(answer).unwrap()).unwrap();
    assert_eq!(media.codec, Codec::Pcma);
    assert_eq!(media.telephone_event_pt, Some(101));
    assert_eq!(media.direction, Direction::SendOnly);
    assert_eq!(media.remote_rtp, "192.0.2.7:6000".parse().unwrap());
}

#[test]
fn malformed_sdp_is_an_error_not_a_panic() {
    for text in [
        "",
        "x",
        "v=1\r\n",
        "v=0\r\nm=audio x RTP/AVP 0\r\n",
        "v=0\r\nc=IN IP4 nonsense\r\n",
        "o=- 1 1 IN IP4 1.2.3.4\r\n",
    ] {
        assert!(SessionDescription::parse(text).is_err(), "{text:?}");
    }
}

#[test]
fn an_offer_negotiate_would_refuse_is_refused_by_the_same_check() {
    let without_address = OFFER.replace("c=IN IP4 192.0.2.10\r\n", "");
    let offer = SessionDescription::parse(&without_address).unwrap();
    assert_eq!(
        check_offer(&offer),
        Err(NegotiationError::NoConnectionAddress)
    );
    assert_eq!(
        negotiate(&offer, &local()).unwrap_err(),
        NegotiationError::NoConnectionAddress
    );
    assert!(!offer_is_acceptable(&offer));
    assert_eq!(offered_rtp_address(&offer), None);
    let fine = SessionDescription::parse(OFFER).unwrap();
    assert_eq!(check_offer(&fine), Ok(()));
    assert!(negotiate(&fine, &local()).is_ok());
}

#[test]
fn an_offer_of_another_address_family_than_our_rtp_is_refused_with_488() {
    let ipv6 = OFFER
        .replace("IN IP4 192.0.2.10", "IN IP6 2001:db8::10")
        .replace("c=IN IP4", "c=IN IP6");
    let offer = SessionDescription::parse(&ipv6).unwrap();
    let refused = negotiate(&offer, &local()).unwrap_err();
    assert_eq!(refused, NegotiationError::AddressFamily);
    assert_eq!(refused.status_code(), 488);
    let ipv6_local = LocalMedia::new("[2001:db8::1]:40000".parse().unwrap(), 7);
    assert!(negotiate(&offer, &ipv6_local).is_ok());
    // Hold (c=0.0.0.0) to an IPv6 portal is no address family mismatch.
    let hold = SessionDescription::parse(&OFFER.replace("c=IN IP4 192.0.2.10", "c=IN IP4 0.0.0.0"))
        .unwrap();
    assert!(negotiate(&hold, &ipv6_local).is_ok());
}

#[test]
fn rtcp_mux_offered_is_answered_and_not_offered_is_not() {
    let muxed = SessionDescription::parse(&format!("{OFFER}a=rtcp-mux\r\n")).unwrap();
    let (answer, negotiated) = negotiate(&muxed, &local()).unwrap();
    assert!(negotiated.rtcp_mux);
    assert!(answer.media[0].has_attribute("rtcp-mux"));
    assert!(answer.to_string().contains("a=rtcp-mux\r\n"));
    let plain = SessionDescription::parse(OFFER).unwrap();
    let (answer, negotiated) = negotiate(&plain, &local()).unwrap();
    assert!(!negotiated.rtcp_mux);
    assert!(!answer.media[0].has_attribute("rtcp-mux"));
    assert!(
        !muxed.media[0].has_attribute("rtcp"),
        "a prefix of another attribute is not it"
    );
}
