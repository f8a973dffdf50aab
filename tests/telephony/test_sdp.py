from __future__ import annotations

import pytest

from telephony.sdp import (
    Direction,
    MediaParams,
    NoCommonCodec,
    SdpError,
    answer_offer,
    make_offer,
    parse,
    parse_answer,
    serialize,
)


def sdp(*lines: str) -> bytes:
    return ("\r\n".join(lines) + "\r\n").encode()


# RFC 4566 section 5 example.
RFC4566 = sdp(
    "v=0",
    "o=jdoe 2890844526 2890842807 IN IP4 10.47.16.5",
    "s=SDP Seminar",
    "i=A Seminar on the session description protocol",
    "u=http://www.example.com/seminars/sdp.pdf",
    "e=j.doe@example.com (Jane Doe)",
    "c=IN IP4 224.2.17.12/127",
    "t=2873397496 2873404696",
    "a=recvonly",
    "m=audio 49170 RTP/AVP 0",
    "m=video 51372 RTP/AVP 99",
    "a=rtpmap:99 h263-1998/90000",
)

# What a typical PBX (Asterisk-like) offers.
PBX_OFFER = sdp(
    "v=0",
    "o=- 1234 1 IN IP4 192.168.10.20",
    "s=Asterisk",
    "c=IN IP4 192.168.10.20",
    "b=CT:384",
    "t=0 0",
    "m=audio 10000 RTP/AVP 9 8 0 96",
    "a=rtpmap:9 G722/8000",
    "a=rtpmap:8 PCMA/8000",
    "a=rtpmap:0 PCMU/8000",
    "a=rtpmap:96 telephone-event/8000",
    "a=fmtp:96 0-16",
    "a=ptime:20",
    "a=maxptime:150",
    "a=sendrecv",
)

IPV6_OFFER = sdp(
    "v=0",
    "o=- 1 1 IN IP6 2001:db8::1",
    "s=-",
    "t=0 0",
    "m=audio 30000 RTP/AVP 0",
    "c=IN IP6 2001:db8::1",
    "b=AS:64",
    "a=rtpmap:0 PCMU/8000",
)


def offer(*media: str, session: tuple[str, ...] = ("c=IN IP4 192.0.2.10",)) -> bytes:
    return sdp("v=0", "o=- 42 7 IN IP4 192.0.2.10", "s=-", *session, "t=0 0", *media)


@pytest.mark.parametrize("data", [RFC4566, PBX_OFFER, IPV6_OFFER])
def test_round_trip(data: bytes) -> None:
    assert serialize(parse(data)) == data


def test_parse_reads_the_fields() -> None:
    desc = parse(RFC4566)
    assert desc.origin.session_id == 2890844526
    assert desc.origin.version == 2890842807
    assert desc.connection is not None and desc.connection.host == "224.2.17.12"
    assert desc.attribute("recvonly") == ""
    assert [m.media for m in desc.media] == ["audio", "video"]
    assert desc.media[1].rtpmap() == {99: ("H263-1998", 90000)}


def test_lf_line_ends_are_accepted() -> None:
    assert parse(PBX_OFFER.replace(b"\r\n", b"\n")) == parse(PBX_OFFER)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"o=- 1 1 IN IP4 1.2.3.4\r\nv=0\r\n",  # v= not first
        sdp("v=0", "s=-", "t=0 0"),  # no o=
        sdp("v=0", "o=- x 1 IN IP4 1.2.3.4", "s=-"),  # bad session id
        offer("m=audio abc RTP/AVP 0"),
        offer("m=audio 70000 RTP/AVP 0"),
        offer("m=audio 1000 RTP/AVP"),  # no formats
        offer("m=audio 1000/x RTP/AVP 0"),
        offer("this is not sdp"),
        offer("m=audio 1000 RTP/AVP 0", "c=IN IP4"),
        b"v=0\r\n\xff\xfe\r\n",
        b"v=0\r\n" + b"a=x\r\n" * 5000,  # too large
    ],
)
def test_malformed_sdp_is_refused(data: bytes) -> None:
    with pytest.raises(SdpError):
        parse(data)


# --- RFC 3264 answers ---


def test_answer_prefers_the_offerers_order() -> None:
    answer, params = answer_offer(PBX_OFFER, "203.0.113.5", 20000)
    assert params == MediaParams(("192.168.10.20", 10000), 8, "PCMA", 96, 20, "sendrecv")
    m = parse(answer).media[0]
    assert m.formats == ("8", "96")
    assert m.port == 20000
    assert m.attribute("ptime") == "20"
    assert m.fmtp(96) == "0-16"  # the offer's fmtp echoed
    assert m.attribute("sendrecv") == ""
    desc = parse(answer)
    assert desc.connection is not None and desc.connection.address == "203.0.113.5"


def test_static_payload_types_without_rtpmap() -> None:
    _, params = answer_offer(offer("m=audio 4000 RTP/AVP 0 8"), "10.0.0.1", 20000)
    assert (params.payload_type, params.codec, params.dtmf_payload_type) == (0, "PCMU", None)
    answer, _ = answer_offer(offer("m=audio 4000 RTP/AVP 18 8"), "10.0.0.1", 20000)
    assert parse(answer).media[0].formats == ("8",)


def test_telephone_event_keeps_the_offers_dynamic_payload_type() -> None:
    answer, params = answer_offer(
        offer("m=audio 4000 RTP/AVP 0 101", "a=rtpmap:101 telephone-event/8000"),
        "10.0.0.1",
        20000,
    )
    assert params.dtmf_payload_type == 101
    media = parse(answer).media[0]
    assert media.rtpmap()[101] == ("TELEPHONE-EVENT", 8000)
    assert media.fmtp(101) == "0-15"  # none offered: the default range


def test_no_common_codec() -> None:
    with pytest.raises(NoCommonCodec):
        answer_offer(offer("m=audio 4000 RTP/AVP 9 18"), "10.0.0.1", 20000)
    with pytest.raises(NoCommonCodec):  # SRTP is not spoken here
        answer_offer(offer("m=audio 4000 RTP/SAVP 0"), "10.0.0.1", 20000)
    with pytest.raises(NoCommonCodec):  # PCMU at 16 kHz is not G.711
        answer_offer(offer("m=audio 4000 RTP/AVP 97", "a=rtpmap:97 PCMU/16000"), "1.2.3.4", 2)
    with pytest.raises(NoCommonCodec):
        answer_offer(offer("m=video 4000 RTP/AVP 0"), "10.0.0.1", 20000)


def test_media_level_connection_wins_and_one_is_required() -> None:
    _, params = answer_offer(
        offer("m=audio 4000 RTP/AVP 0", "c=IN IP4 198.51.100.7"), "10.0.0.1", 20000
    )
    assert params.remote_addr == ("198.51.100.7", 4000)
    with pytest.raises(SdpError, match="no c= line"):
        answer_offer(offer("m=audio 4000 RTP/AVP 0", session=()), "10.0.0.1", 20000)
    with pytest.raises(SdpError, match="not an IP address"):
        answer_offer(offer("m=audio 4000 RTP/AVP 0", "c=IN IP4 pbx.example"), "10.0.0.1", 2)


def test_other_streams_are_declined_keeping_count_and_order() -> None:
    data = offer(
        "m=video 5000 RTP/AVP 31",
        "m=audio 0 RTP/AVP 0",
        "m=audio 6000 RTP/AVP 0 8",
        "m=audio 7000 RTP/AVP 8",
    )
    answer, params = answer_offer(data, "10.0.0.1", 20000)
    media = parse(answer).media
    assert [(m.media, m.port, m.formats) for m in media] == [
        ("video", 0, ("31",)),
        ("audio", 0, ("0",)),
        ("audio", 20000, ("0",)),
        ("audio", 0, ("8",)),
    ]
    assert params.remote_addr == ("192.0.2.10", 6000)


def test_a_later_audio_stream_is_answered_when_the_first_has_no_common_codec() -> None:
    data = offer("m=audio 5000 RTP/AVP 9", "m=audio 6000 RTP/AVP 8")
    answer, params = answer_offer(data, "10.0.0.1", 20000)
    assert [m.port for m in parse(answer).media] == [0, 20000]
    assert (params.codec, params.remote_addr) == ("PCMA", ("192.0.2.10", 6000))


@pytest.mark.parametrize(
    ("offered", "answered"),
    [
        ("sendrecv", "sendrecv"),
        ("sendonly", "recvonly"),
        ("recvonly", "sendonly"),
        ("inactive", "inactive"),
    ],
)
def test_direction_is_mirrored(offered: str, answered: str) -> None:
    answer, params = answer_offer(
        offer("m=audio 4000 RTP/AVP 0", f"a={offered}"), "10.0.0.1", 20000
    )
    assert parse(answer).media[0].attribute(answered) == ""
    assert params.direction == answered
    # a session-level attribute applies to the stream too
    _, params = answer_offer(
        offer("m=audio 4000 RTP/AVP 0", session=("c=IN IP4 192.0.2.1", f"a={offered}")),
        "10.0.0.1",
        20000,
    )
    assert params.direction == answered


def test_old_style_hold_sends_nothing() -> None:
    _, params = answer_offer(
        offer("m=audio 4000 RTP/AVP 0", session=("c=IN IP4 0.0.0.0",)), "10.0.0.1", 20000
    )
    assert not Direction(params.direction).sends


def test_ipv6() -> None:
    answer, params = answer_offer(IPV6_OFFER, "2001:db8::2", 20000)
    assert params.remote_addr == ("2001:db8::1", 30000)
    desc = parse(answer)
    assert desc.origin.addrtype == "IP6"
    assert desc.connection is not None and str(desc.connection) == "IN IP6 2001:db8::2"


def test_re_offer_keeps_the_origin_and_increments_the_version() -> None:
    first, _ = answer_offer(PBX_OFFER, "10.0.0.1", 20000, session_id=777)
    assert parse(first).origin.session_id == 777
    assert parse(first).origin.version == 1
    # an unchanged answer keeps its version (session refresh)
    same, _ = answer_offer(PBX_OFFER, "10.0.0.1", 20000, previous=first)
    assert same == first
    hold = PBX_OFFER.replace(b"a=sendrecv", b"a=sendonly")
    changed, params = answer_offer(hold, "10.0.0.1", 20000, previous=first)
    assert (parse(changed).origin.session_id, parse(changed).origin.version) == (777, 2)
    assert params.direction == "recvonly"


# --- the outbound case ---


def test_offer_and_answer_agree() -> None:
    our_offer = make_offer("10.0.0.1", 20000)
    media = parse(our_offer).media[0]
    assert media.formats == ("0", "8", "101")
    assert media.attribute("ptime") == "20"
    answer, theirs = answer_offer(our_offer, "10.0.0.2", 30000)
    assert theirs == MediaParams(("10.0.0.1", 20000), 0, "PCMU", 101)
    assert parse_answer(answer, our_offer) == MediaParams(("10.0.0.2", 30000), 0, "PCMU", 101)


def test_parse_answer_mirrors_direction_and_checks_the_streams() -> None:
    our_offer = make_offer("10.0.0.1", 20000)
    base = ("v=0", "o=- 1 1 IN IP4 10.0.0.2", "s=-", "c=IN IP4 10.0.0.2", "t=0 0")
    params = parse_answer(sdp(*base, "m=audio 30000 RTP/AVP 8", "a=recvonly"), our_offer)
    assert (params.codec, params.direction, params.dtmf_payload_type) == ("PCMA", "sendonly", None)
    with pytest.raises(NoCommonCodec):
        parse_answer(sdp(*base, "m=audio 0 RTP/AVP 0"), our_offer)
    with pytest.raises(NoCommonCodec):
        parse_answer(sdp(*base, "m=audio 30000 RTP/AVP 9"), our_offer)
    with pytest.raises(SdpError, match="m= lines"):
        parse_answer(sdp(*base, "m=audio 30000 RTP/AVP 0", "m=video 0 RTP/AVP 31"), our_offer)


def test_re_offer_of_our_own() -> None:
    first = make_offer("10.0.0.1", 20000, session_id=5)
    again = make_offer("10.0.0.1", 20000, previous=first, direction="sendonly")
    assert (parse(again).origin.session_id, parse(again).origin.version) == (5, 2)
    assert parse(again).media[0].attribute("sendonly") == ""
