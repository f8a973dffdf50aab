"""Dialog state: identifiers, CSeq checks, route set and remote target, session timers."""

from __future__ import annotations

from telephony.sip.dialog import Dialog, Dialogs, request_key, session_timer
from telephony.sip.message import SipUri, make_response, parse
from tests.telephony.sip_helpers import request

CONTACT = "<sip:rathausbot@127.0.0.1:5070>"


def test_uas_dialog_builds_in_dialog_requests_with_route_set() -> None:
    invite = request(
        "INVITE",
        extra="Record-Route: <sip:p1.example.org;lr>, <sip:p2.example.org;lr>\r\n",
    )
    dialog = Dialog.as_uas(invite, "ours", CONTACT)
    assert dialog.key == ("call-1@test", "ours", "caller1")
    bye = dialog.request("BYE", "SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKx")
    assert bye.uri == SipUri.parse("sip:caller@127.0.0.1:5999")
    assert bye.headers.get_all("route") == ["<sip:p1.example.org;lr>", "<sip:p2.example.org;lr>"]
    assert bye.from_.tag == "ours" and bye.to.tag == "caller1" and bye.cseq == (1, "BYE")
    assert dialog.request("INFO", "SIP/2.0/UDP h;branch=z9hG4bKy").cseq == (2, "INFO")
    assert dialog.next_hop() == SipUri.parse("sip:p1.example.org;lr")
    again = parse(bytes(bye))
    assert request_key(again) == ("call-1@test", "caller1", "ours")


def test_uac_dialog_reverses_record_route_and_takes_the_contact() -> None:
    invite = request("INVITE")
    response = make_response(
        invite,
        200,
        to_tag="callee9",
        extra=[("Record-Route", "<sip:a;lr>, <sip:b;lr>"), ("Contact", "<sip:bob@10.0.0.2:5062>")],
    )
    dialog = Dialog.as_uac(invite, response, CONTACT)
    assert dialog.route_set == ("<sip:b;lr>", "<sip:a;lr>")
    assert dialog.remote_target == SipUri.parse("sip:bob@10.0.0.2:5062")
    ack = dialog.request("ACK", "SIP/2.0/UDP h;branch=z9hG4bKz", cseq=1)
    assert ack.cseq == (1, "ACK") and "contact" not in ack.headers


def test_out_of_order_cseq_gets_500_and_target_refresh_updates_contact() -> None:
    dialog = Dialog.as_uas(request("INVITE", cseq=5), "ours", CONTACT)
    assert dialog.accept_request(request("BYE", cseq=5, to_tag="ours")) == 500
    reinvite = request(
        "INVITE", cseq=6, to_tag="ours", extra="Contact: <sip:moved@127.0.0.1:6000>\r\n"
    )
    reinvite.headers.remove("contact")
    reinvite.headers.add("Contact", "<sip:moved@127.0.0.1:6000>")
    assert dialog.accept_request(reinvite) is None
    assert dialog.remote_target == SipUri.parse("sip:moved@127.0.0.1:6000")
    assert dialog.remote_cseq == 6


def test_dialog_table_is_bounded() -> None:
    table = Dialogs(max_dialogs=1)
    first = Dialog.as_uas(request("INVITE"), "a", CONTACT)
    assert table.add(first)
    assert not table.add(Dialog.as_uas(request("INVITE", call_id="other"), "b", CONTACT))
    assert table.find(request("BYE", to_tag="a")) is first
    table.remove(first)
    assert len(table) == 0


def test_session_timer_is_accepted_with_the_peer_refreshing() -> None:
    timer = session_timer(request("INVITE", extra="Session-Expires: 1800\r\nSupported: timer\r\n"))
    assert timer.headers == (("Session-Expires", "1800;refresher=uac"), ("Require", "timer"))
    assert (timer.interval, timer.we_refresh) == (1800, False)
    asked = session_timer(request("INVITE", extra="Session-Expires: 600;refresher=uas\r\n"))
    assert asked.headers == (("Session-Expires", "600;refresher=uas"),) and asked.we_refresh
    # A UAC without timer support cannot refresh (a proxy added the header): we do.
    assert session_timer(request("INVITE", extra="Session-Expires: 900\r\n")).we_refresh
    assert session_timer(request("INVITE")).headers == ()
    small = session_timer(request("INVITE", extra="Session-Expires: 30\r\n"))
    assert small.reject_422 and small.headers == (("Min-SE", "90"),)
