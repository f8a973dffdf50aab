"""Transaction state machines with a fake clock (RFC 3261 17, RFC 6026)."""

from __future__ import annotations

import pytest

from telephony.sip.message import Request, Response
from telephony.sip.transaction import (
    AckReceived,
    Cancelled,
    Output,
    Peer,
    RequestReceived,
    ResponseReceived,
    Send,
    ServerTransaction,
    State,
    StrayResponse,
    TimedOut,
    Timers,
    TransactionLayer,
)
from tests.telephony.sip_helpers import request, response_to

UDP = Peer("udp", "127.0.0.1", 5999)
TCP = Peer("tcp", "127.0.0.1", 40001)
TIMERS = Timers(t1=0.5, t2=4.0, t4=5.0, d=32.0)


def sent(outputs: list[Output]) -> list[Request | Response]:
    return [o.message for o in outputs if isinstance(o, Send)]


def statuses(outputs: list[Output]) -> list[int]:
    return [m.status for m in sent(outputs) if isinstance(m, Response)]


def run_until(layer: TransactionLayer, end: float) -> list[tuple[float, Output]]:
    """Fires every due timer up to `end`; returns (time, output) pairs."""
    log: list[tuple[float, Output]] = []
    while (due := layer.next_timeout()) is not None and due <= end:
        log += [(due, o) for o in layer.on_timer(due)]
    return log


def new_invite(layer: TransactionLayer, peer: Peer = UDP) -> ServerTransaction:
    out = layer.receive(request("INVITE"), peer, 0.0)
    assert statuses(out) == [100]
    received = [o for o in out if isinstance(o, RequestReceived)]
    assert len(received) == 1
    return received[0].tx


def test_invite_server_sends_100_at_once_and_repeats_provisional_on_retransmission() -> None:
    layer = TransactionLayer(TIMERS)
    tx = new_invite(layer)
    layer.respond(tx, response_to(tx.request, 180), 0.1)
    out = layer.receive(request("INVITE"), UDP, 0.5)
    assert statuses(out) == [180]
    assert not any(isinstance(o, RequestReceived) for o in out)


def test_2xx_is_retransmitted_doubling_to_t2_until_ack() -> None:
    layer = TransactionLayer(TIMERS)
    tx = new_invite(layer)
    layer.respond(tx, response_to(tx.request, 200), 0.0)
    log = run_until(layer, 6.0)
    times = [t for t, o in log if isinstance(o, Send)]
    assert times == [0.5, 1.5, 3.5]  # intervals 0.5, 1, 2 (then 4 = T2 -> 7.5)
    ack = request("ACK", branch="z9hG4bKother", to_tag="callee1")
    out = layer.receive(ack, UDP, 6.0)
    assert any(isinstance(o, AckReceived) for o in out)
    assert len(layer) == 0


def test_2xx_without_ack_times_out_with_timer_h() -> None:
    layer = TransactionLayer(TIMERS)
    tx = new_invite(layer, TCP)
    layer.respond(tx, response_to(tx.request, 200), 0.0)
    log = run_until(layer, 100.0)
    sends = [t for t, o in log if isinstance(o, Send)]
    assert sends[-1] < 32.0 and sends[:4] == [0.5, 1.5, 3.5, 7.5]
    assert [o.tx for t, o in log if isinstance(o, TimedOut)] == [tx]
    assert [t for t, o in log if isinstance(o, TimedOut)] == [32.0]
    assert len(layer) == 0


def test_non_2xx_final_retransmitted_until_ack_then_timer_i() -> None:
    layer = TransactionLayer(TIMERS)
    tx = new_invite(layer)
    layer.respond(tx, response_to(tx.request, 486), 0.0)
    log = run_until(layer, 2.0)
    assert [t for t, o in log if isinstance(o, Send)] == [0.5, 1.5]
    # The ACK of a non-2xx belongs to the INVITE transaction (same branch).
    out = layer.receive(request("ACK", to_tag="callee1"), UDP, 2.0)
    assert out == []
    assert tx.state is State.CONFIRMED
    assert run_until(layer, 6.0) == [] and len(layer) == 1
    run_until(layer, 7.0)
    assert len(layer) == 0


def test_non_invite_server_repeats_final_and_ends_with_timer_j() -> None:
    layer = TransactionLayer(TIMERS)
    out = layer.receive(request("OPTIONS"), UDP, 0.0)
    assert statuses(out) == []
    (event,) = [o for o in out if isinstance(o, RequestReceived)]
    layer.respond(event.tx, response_to(event.tx.request, 200), 0.1)
    assert statuses(layer.receive(request("OPTIONS"), UDP, 1.0)) == [200]
    run_until(layer, 32.0)
    assert len(layer) == 1
    run_until(layer, 32.2)
    assert len(layer) == 0


def test_non_invite_server_over_tcp_ends_at_once() -> None:
    layer = TransactionLayer(TIMERS)
    out = layer.receive(request("BYE"), TCP, 0.0)
    (event,) = [o for o in out if isinstance(o, RequestReceived)]
    layer.respond(event.tx, response_to(event.tx.request, 200), 0.0)
    run_until(layer, 0.0)
    assert len(layer) == 0


def test_cancel_gets_200_and_the_invite_487() -> None:
    layer = TransactionLayer(TIMERS)
    tx = new_invite(layer)
    out = layer.receive(request("CANCEL"), UDP, 1.0)
    assert sorted(statuses(out)) == [200, 487]
    assert [o.tx for o in out if isinstance(o, Cancelled)] == [tx]
    cancel_ok = next(m for m in sent(out) if isinstance(m, Response) and m.status == 200)
    assert cancel_ok.cseq == (1, "CANCEL")
    assert tx.last_response is not None
    layer.receive(request("ACK", to_tag=tx.last_response.to.tag), UDP, 1.1)
    assert tx.state is State.CONFIRMED


def test_cancel_without_invite_is_481() -> None:
    layer = TransactionLayer(TIMERS)
    assert statuses(layer.receive(request("CANCEL"), UDP, 0.0)) == [481]


def test_rfc2543_key_without_magic_cookie() -> None:
    layer = TransactionLayer(TIMERS)
    out = layer.receive(request("INVITE", branch="old1"), UDP, 0.0)
    assert any(isinstance(o, RequestReceived) for o in out)
    retransmission = layer.receive(request("INVITE", branch="old1"), UDP, 0.5)
    assert statuses(retransmission) == [100]
    assert not any(isinstance(o, RequestReceived) for o in retransmission)


def test_invite_client_retransmits_with_timer_a_and_times_out_with_b() -> None:
    layer = TransactionLayer(TIMERS)
    tx, out = layer.send_request(request("INVITE"), UDP, 0.0)
    assert len(sent(out)) == 1
    log = run_until(layer, 40.0)
    sends = [t for t, o in log if isinstance(o, Send)]
    assert sends[:4] == [0.5, 1.5, 3.5, 7.5] and sends[-1] == 31.5
    assert [t for t, o in log if isinstance(o, TimedOut)] == [32.0]
    assert len(layer) == 0


def test_invite_client_acks_non_2xx_itself() -> None:
    layer = TransactionLayer(TIMERS)
    invite = request("INVITE")
    tx, _ = layer.send_request(invite, UDP, 0.0)
    layer.receive(response_to(invite, 180), UDP, 0.1)
    assert "A" not in tx.deadlines
    out = layer.receive(response_to(invite, 486), UDP, 0.2)
    (ack,) = sent(out)
    assert isinstance(ack, Request) and ack.method == "ACK"
    assert ack.top_via.branch == invite.top_via.branch and ack.to.tag == "callee1"
    assert [o.response.status for o in out if isinstance(o, ResponseReceived)] == [486]
    again = layer.receive(response_to(invite, 486), UDP, 0.3)
    assert [m.method for m in sent(again) if isinstance(m, Request)] == ["ACK"]
    run_until(layer, 40.0)
    assert len(layer) == 0


def test_invite_client_passes_2xx_retransmissions_to_the_tu() -> None:
    layer = TransactionLayer(TIMERS)
    invite = request("INVITE")
    layer.send_request(invite, UDP, 0.0)
    first = layer.receive(response_to(invite, 200), UDP, 0.1)
    assert sent(first) == []  # the TU sends the ACK of a 2xx
    again = layer.receive(response_to(invite, 200), UDP, 0.6)
    assert [o.response.status for o in again if isinstance(o, ResponseReceived)] == [200]
    run_until(layer, 40.0)
    assert len(layer) == 0
    late = layer.receive(response_to(invite, 200), UDP, 41.0)
    assert [type(o) for o in late] == [StrayResponse]


def test_non_invite_client_timer_e_caps_at_t2_and_f_times_out() -> None:
    layer = TransactionLayer(TIMERS)
    layer.send_request(request("BYE"), UDP, 0.0)
    log = run_until(layer, 40.0)
    sends = [t for t, o in log if isinstance(o, Send)]
    assert sends[:5] == [0.5, 1.5, 3.5, 7.5, 11.5]
    assert [t for t, o in log if isinstance(o, TimedOut)] == [32.0]


def test_non_invite_client_completes_and_ends_after_timer_k() -> None:
    layer = TransactionLayer(TIMERS)
    bye = request("BYE")
    tx, _ = layer.send_request(bye, UDP, 0.0)
    out = layer.receive(response_to(bye, 200), UDP, 0.2)
    assert [o.tx for o in out if isinstance(o, ResponseReceived)] == [tx]
    run_until(layer, 5.1)
    assert len(layer) == 1
    run_until(layer, 5.3)
    assert len(layer) == 0


def test_non_invite_server_whose_tu_never_answers_is_removed() -> None:
    layer = TransactionLayer(TIMERS)
    layer.receive(request("INFO"), UDP, 0.0)
    log = run_until(layer, 40.0)
    assert any(isinstance(o, TimedOut) for _, o in log) and len(layer) == 0


def test_layer_is_bounded() -> None:
    layer = TransactionLayer(TIMERS, max_transactions=3)
    for n in range(3):
        layer.receive(request("OPTIONS", branch=f"z9hG4bK{n}"), UDP, 0.0)
    out = layer.receive(request("OPTIONS", branch="z9hG4bKfull"), UDP, 0.0)
    assert statuses(out) == [503] and len(layer) == 3


def test_non_invite_client_retransmits_at_t2_once_proceeding() -> None:
    layer = TransactionLayer(TIMERS)
    bye = request("BYE")
    layer.send_request(bye, UDP, 0.0)
    layer.receive(response_to(bye, 100), UDP, 0.1)
    log = run_until(layer, 10.0)
    assert [t for t, o in log if isinstance(o, Send)] == [0.5, 4.5, 8.5]


def test_one_source_gets_a_fair_share_and_trusted_sources_keep_room() -> None:
    layer = TransactionLayer(TIMERS, max_transactions=10, max_per_source=4, reserved=2)
    flood = Peer("udp", "192.0.2.1", 5060)
    outs = [layer.receive(request("INFO", branch=f"z9hG4bKf{n}"), flood, 0.0) for n in range(5)]
    assert [statuses(o) for o in outs] == [[]] * 4 + [[503]]  # the 5th is over its share
    assert layer.source_count("192.0.2.1") == 4
    others = [Peer("udp", f"192.0.2.{n}", 5060) for n in range(2, 7)]
    outs = [layer.receive(request("INFO", branch=f"z9hG4bKo{p.host}"), p, 0.0) for p in others]
    assert [statuses(o) for o in outs] == [[], [], [], [], [503]]
    assert len(layer) == 8  # the untrusted sources stop at 10 - 2
    pbx = Peer("udp", "10.1.2.3", 5060)
    for n in range(2):
        out = layer.receive(request("INVITE", branch=f"z9hG4bKp{n}"), pbx, 0.0, privileged=True)
        assert statuses(out) == [100] and len(layer) == 9 + n  # 100 Trying, no 503
    out = layer.receive(request("INVITE", branch="z9hG4bKp9"), pbx, 0.0, privileged=True)
    assert statuses(out) == [503]  # the table itself is full


def test_per_source_counts_fall_when_transactions_end() -> None:
    layer = TransactionLayer(TIMERS, max_transactions=10, max_per_source=1)
    info = request("INFO", branch="z9hG4bKa")
    (received,) = [o for o in layer.receive(info, UDP, 0.0) if isinstance(o, RequestReceived)]
    assert statuses(layer.receive(request("INFO", branch="z9hG4bKb"), UDP, 0.0)) == [503]
    assert layer.knows(info) and not layer.knows(request("INFO", branch="z9hG4bKb"))
    layer.respond(received.tx, response_to(info, 200), 0.0)
    run_until(layer, 40.0)
    assert len(layer) == 0 and layer.source_count(UDP.host) == 0
    assert statuses(layer.receive(request("INFO", branch="z9hG4bKc"), UDP, 41.0)) == []


def test_a_cancel_is_known_when_its_invite_is() -> None:
    layer = TransactionLayer(TIMERS)
    invite = request("INVITE", branch="z9hG4bKi")
    cancel = request("CANCEL", branch="z9hG4bKi")
    assert not layer.knows(cancel)
    layer.receive(invite, UDP, 0.0)
    assert layer.knows(cancel) and layer.knows(invite)
    assert not layer.knows(request("CANCEL", branch="z9hG4bKother"))


@pytest.mark.parametrize(
    "options",
    [{"max_transactions": 0}, {"max_per_source": 0}, {"reserved": -1}, {"reserved": 2000}],
)
def test_layer_limits_must_make_sense(options: dict[str, int]) -> None:
    with pytest.raises(ValueError):
        TransactionLayer(TIMERS, **options)  # type: ignore[arg-type]
