"""The inbound call policy on every combination of settings, sans-I/O with a fake clock."""

from __future__ import annotations

import logging

import pytest

from telephony.capacity import CallCapacity, CallKind
from telephony.networks import parse_networks
from telephony.sip import digest
from telephony.sip.policy import (
    Accept,
    Challenge,
    InboundPolicy,
    PolicyConfig,
    Reject,
    source_key,
)
from telephony.sip.transaction import Peer
from tests.telephony.sip_helpers import SDP, request

USERS = {"amt": "geheim"}
LOOP = Peer("udp", "127.0.0.1", 5999)
OTHER_LOOP = Peer("udp", "127.0.0.5", 5999)
PBX = Peer("udp", "10.1.2.3", 5060)
STRANGER = Peer("udp", "203.0.113.9", 5060)
STRANGER2 = Peer("udp", "203.0.113.10", 5060)
T0 = 1000.0


def policy(
    *, trusted: tuple[str, ...] = (), users: bool = False, **options: object
) -> InboundPolicy:
    config = PolicyConfig(
        trusted=parse_networks(trusted),
        auth_users=USERS if users else {},
        **options,  # type: ignore[arg-type]
    )
    return InboundPolicy(config, secret=b"k" * 32)


def invite(*, body: bytes = SDP, user: str = "100", auth: str | None = None, branch: str = "b1"):
    extra = "Content-Type: application/sdp\r\n" if body else ""
    if auth is not None:
        extra += f"Authorization: {auth}\r\n"
    return request(
        "INVITE", uri=f"sip:{user}@127.0.0.1", body=body, extra=extra, branch=f"z9hG4bK{branch}"
    )


def answer(
    challenge: Challenge, *, password: str = "geheim", user: str = "100", username: str = "amt"
) -> str:
    return digest.authorization(
        challenge.header, "INVITE", f"sip:{user}@127.0.0.1", username, password, 1
    )


def authed(p: InboundPolicy, peer: Peer, now: float = T0, *, user: str = "100"):
    """Challenge, then answer it correctly; the decision on the authenticated INVITE."""
    first = p.decide(invite(user=user), peer, now)
    assert isinstance(first, Challenge)
    return p.decide(invite(user=user, auth=answer(first, user=user)), peer, now)


def guess(p: InboundPolicy, peer: Peer, now: float = T0, *, password: str = "falsch"):
    """Challenge, then answer it with a wrong password; the decision on that answer."""
    challenge = p.decide(invite(), peer, now)
    assert isinstance(challenge, Challenge)
    return p.decide(invite(auth=answer(challenge, password=password)), peer, now)


# --- trust: who is asked for credentials --------------------------------------------------


def test_neither_trust_nor_credentials_accepts_loopback_only() -> None:
    p = policy()
    assert p.decide(invite(), LOOP, T0) == Accept(trusted=True)
    assert p.decide(invite(), OTHER_LOOP, T0) == Accept(trusted=True)
    assert p.decide(invite(), Peer("udp", "::1", 5060), T0) == Accept(trusted=True)
    assert p.decide(invite(), PBX, T0) == Reject(403)
    assert p.decide(invite(), STRANGER, T0) == Reject(403)


def test_trusted_networks_without_credentials_refuse_everyone_else() -> None:
    p = policy(trusted=("10.1.2.0/24",))
    assert p.decide(invite(), PBX, T0) == Accept(trusted=True)
    assert p.decide(invite(), STRANGER, T0) == Reject(403)
    assert p.decide(invite(), LOOP, T0) == Reject(403)  # loopback is not implied any more


def test_credentials_without_trusted_networks_challenge_every_source_even_loopback() -> None:
    """The fail-open bug: with credentials and no trusted list every source was trusted."""
    p = policy(users=True)
    for peer in (LOOP, PBX, STRANGER):
        decision = p.decide(invite(), peer, T0)
        assert isinstance(decision, Challenge) and not decision.stale
        assert decision.header.startswith('Digest realm="rathausbot", nonce="')
        assert 'qop="auth"' in decision.header
    assert authed(p, LOOP) == Accept(trusted=False, user="amt")
    assert authed(p, STRANGER) == Accept(trusted=False, user="amt")


def test_trusted_networks_and_credentials() -> None:
    p = policy(trusted=("10.1.2.0/24",), users=True)
    assert p.decide(invite(), PBX, T0) == Accept(trusted=True)
    assert isinstance(p.decide(invite(), STRANGER, T0), Challenge)
    assert isinstance(p.decide(invite(), LOOP, T0), Challenge)
    assert authed(p, STRANGER) == Accept(trusted=False, user="amt")


def test_trusted_reports_the_same_as_decide() -> None:
    assert policy().trusted("127.0.0.1") and not policy().trusted("10.1.2.3")
    assert not policy(users=True).trusted("127.0.0.1")
    assert policy(trusted=("10.1.2.0/24",), users=True).trusted("10.1.2.200")
    assert not policy(trusted=("10.1.2.0/24",)).trusted("10.1.3.1")
    assert not policy(trusted=("10.1.2.0/24",)).trusted("not-an-address")


def test_describe_names_the_effective_policy() -> None:
    assert policy().describe() == (
        "SIP: calls accepted from loopback only (no trusted sources, no credentials)"
    )
    assert policy(users=True).describe() == (
        "SIP: every call needs digest auth (no trusted sources)"
    )
    assert policy(trusted=("10.1.2.0/24",)).describe() == (
        "SIP: calls accepted from 10.1.2.0/24 only, all others refused (403)"
    )
    assert policy(trusted=("10.1.2.0/24",), users=True).describe() == (
        "SIP: calls accepted from 10.1.2.0/24 without auth, all others need digest auth"
    )


# --- digest guessing ------------------------------------------------------------------------


def test_wrong_passwords_lock_out_the_source_not_the_account(
    caplog: pytest.LogCaptureFixture,
) -> None:
    p = policy(users=True, max_auth_failures=3, lockout_s=60.0)
    caplog.set_level(logging.WARNING, logger="telephony.sip.policy")
    for attempt in (1, 2):
        wrong = guess(p, STRANGER, password=f"rate{attempt}")
        assert isinstance(wrong, Challenge)  # asked again: failures 1 and 2 of 3
    spare = p.decide(invite(), STRANGER, T0)  # a challenge issued before the lockout
    assert isinstance(spare, Challenge)
    assert guess(p, STRANGER, password="rate3") == Reject(403)
    # Locked: even the right password and a plain INVITE get 403, without a challenge.
    assert p.decide(invite(), STRANGER, T0 + 59) == Reject(403)
    assert p.decide(invite(auth=answer(spare)), STRANGER, T0 + 59) == Reject(403)
    # The account is not locked: another source still gets in.
    assert authed(p, STRANGER2, T0 + 1) == Accept(trusted=False, user="amt")
    # The lockout ends.
    assert isinstance(p.decide(invite(), STRANGER, T0 + 61), Challenge)
    assert authed(p, STRANGER, T0 + 61) == Accept(trusted=False, user="amt")
    messages = [r.getMessage() for r in caplog.records]
    assert "SIP digest auth failed from 203.0.113.9 (1 of 3)" in messages
    assert "SIP digest auth failed from 203.0.113.9 (3 of 3): locked out for 60 s" in messages
    assert all("geheim" not in m and "rate" not in m for m in messages)


def test_failures_outside_the_window_do_not_add_up() -> None:
    p = policy(users=True, max_auth_failures=2, failure_window_s=100.0)
    for now in (T0, T0 + 101, T0 + 202):
        wrong = guess(p, STRANGER, now, password="x")
        assert isinstance(wrong, Challenge)
    assert guess(p, STRANGER, T0 + 203, password="y") == Reject(403)


def test_a_success_clears_the_failures() -> None:
    p = policy(users=True, max_auth_failures=2)
    challenge = p.decide(invite(), STRANGER, T0)
    assert isinstance(challenge, Challenge)
    assert isinstance(
        p.decide(invite(auth=answer(challenge, password="x")), STRANGER, T0), Challenge
    )
    assert authed(p, STRANGER) == Accept(trusted=False, user="amt")
    challenge = p.decide(invite(), STRANGER, T0)
    assert isinstance(challenge, Challenge)
    assert isinstance(
        p.decide(invite(auth=answer(challenge, password="y")), STRANGER, T0), Challenge
    )


def test_one_nonce_serves_no_second_guess() -> None:
    p = policy(users=True, max_auth_failures=100)
    challenge = p.decide(invite(), STRANGER, T0)
    assert isinstance(challenge, Challenge)
    assert isinstance(
        p.decide(invite(auth=answer(challenge, password="x")), STRANGER, T0), Challenge
    )
    # The right password on the burnt nonce is not accepted; a fresh challenge is.
    again = p.decide(invite(auth=answer(challenge)), STRANGER, T0)
    assert isinstance(again, Challenge)
    assert p.decide(invite(auth=answer(again)), STRANGER, T0) == Accept(trusted=False, user="amt")


def test_a_nonce_is_bound_to_the_address_it_was_issued_to() -> None:
    p = policy(users=True)
    challenge = p.decide(invite(), STRANGER, T0)
    assert isinstance(challenge, Challenge)
    assert isinstance(p.decide(invite(auth=answer(challenge)), STRANGER2, T0), Challenge)
    assert authed(p, STRANGER) == Accept(False, "amt")


def test_an_expired_nonce_gets_a_stale_challenge_and_counts_no_failure() -> None:
    p = policy(users=True, max_auth_failures=1)
    challenge = p.decide(invite(), STRANGER, T0)
    assert isinstance(challenge, Challenge)
    late = T0 + digest.NONCE_TTL_S + 1
    stale = p.decide(invite(auth=answer(challenge)), STRANGER, late)
    assert isinstance(stale, Challenge) and stale.stale and "stale=true" in stale.header
    assert p.decide(invite(auth=answer(stale)), STRANGER, late) == Accept(False, "amt")


def test_unknown_user_and_foreign_nonce_are_failures() -> None:
    p = policy(users=True, max_auth_failures=2)
    challenge = p.decide(invite(), STRANGER, T0)
    assert isinstance(challenge, Challenge)
    assert isinstance(
        p.decide(invite(auth=answer(challenge, username="x")), STRANGER, T0), Challenge
    )
    forged = Challenge('Digest realm="rathausbot", nonce="1.abc.def", qop="auth"')
    assert p.decide(invite(auth=answer(forged)), STRANGER, T0) == Reject(403)


def test_no_answer_confirms_a_password_without_a_call() -> None:
    """An INVITE without SDP gets 488 whether its password is right or wrong."""
    p = policy(users=True, max_auth_failures=100)
    challenge = p.decide(invite(), STRANGER, T0)
    assert isinstance(challenge, Challenge)
    right = p.decide(invite(body=b"", auth=answer(challenge)), STRANGER, T0)
    wrong = p.decide(invite(body=b"", auth=answer(challenge, password="x")), STRANGER, T0)
    assert right == wrong == Reject(488)
    text = request(
        "INVITE",
        body=b"hello",
        extra=f"Content-Type: text/plain\r\nAuthorization: {answer(challenge)}\r\n",
    )
    assert p.decide(text, STRANGER, T0) == Reject(415, (("Accept", "application/sdp"),))


# --- what the answers tell about users --------------------------------------------------------


def test_unknown_users_are_not_told_apart_before_trust_or_auth() -> None:
    p = policy(users=True, allowed_users=frozenset({"hotline"}))
    for user in ("hotline", "other"):
        assert isinstance(p.decide(invite(user=user), STRANGER, T0), Challenge)
        assert p.decide(invite(user=user, body=b""), STRANGER, T0) == Reject(488)
    closed = policy(trusted=("10.1.2.0/24",), allowed_users=frozenset({"hotline"}))
    for user in ("hotline", "other"):
        assert closed.decide(invite(user=user), STRANGER, T0) == Reject(403)
        assert closed.decide(invite(user=user, body=b""), PBX, T0) == Reject(488)
    assert closed.decide(invite(user="other"), PBX, T0) == Reject(404)
    assert closed.decide(invite(user="hotline"), PBX, T0) == Accept(trusted=True)
    assert authed(p, STRANGER, user="other") == Reject(404)


# --- call limits --------------------------------------------------------------------------------


def test_max_calls_at_the_limit_and_below() -> None:
    p = policy(max_calls=2)
    p.call_started(LOOP.host)
    assert p.decide(invite(), LOOP, T0) == Accept(trusted=True)
    p.call_started(None)  # an outbound call counts too
    assert p.calls == 2
    assert p.decide(invite(), LOOP, T0) == Reject(503, (("Retry-After", "30"),))
    p.call_ended(None)
    assert p.decide(invite(), LOOP, T0) == Accept(trusted=True)


def test_browser_calls_count_against_the_shared_voice_limit() -> None:
    capacity = CallCapacity(max_calls=2)
    p = InboundPolicy(PolicyConfig(max_calls=99), secret=b"k" * 32, capacity=capacity)
    assert capacity.take(CallKind.BROWSER)
    assert p.decide(invite(), LOOP, T0) == Accept(trusted=True)  # 1 of 2
    p.call_started(LOOP.host)
    assert (p.calls, capacity.total) == (1, 2)
    assert p.decide(invite(), LOOP, T0) == Reject(503, (("Retry-After", "30"),))
    assert not capacity.take(CallKind.BROWSER)
    capacity.release(CallKind.BROWSER)
    assert p.decide(invite(), LOOP, T0) == Accept(trusted=True)
    p.call_ended(LOOP.host)
    assert (p.calls, capacity.total) == (0, 0)


def test_calls_per_untrusted_source_are_bounded_trusted_ones_are_not() -> None:
    p = policy(trusted=("10.1.2.0/24",), users=True, max_calls_per_source=2)
    for _ in range(2):
        assert authed(p, STRANGER) == Accept(False, "amt")
        p.call_started(STRANGER.host)
    assert authed(p, STRANGER) == Reject(486)
    assert authed(p, STRANGER2) == Accept(False, "amt")
    p.call_ended(STRANGER.host)
    assert authed(p, STRANGER) == Accept(False, "amt")
    for _ in range(5):
        p.call_started(PBX.host)
    assert p.decide(invite(), PBX, T0) == Accept(trusted=True)


def test_ending_more_calls_than_started_keeps_counters_at_zero() -> None:
    p = policy(max_calls=1)
    p.call_ended(LOOP.host)
    assert p.calls == 0
    p.call_started(LOOP.host)
    assert p.calls == 1
    p.call_ended(LOOP.host)
    assert p.calls == 0 and p.decide(invite(), LOOP, T0) == Accept(trusted=True)


# --- message rate per source --------------------------------------------------------------------


def test_one_flooding_port_does_not_silence_another_port_of_the_address() -> None:
    p = policy(rate_per_source=1.0, rate_burst=5, host_rate_factor=4)
    flood = Peer("udp", "127.0.0.1", 40000)
    admitted = sum(p.admit(flood, T0) for _ in range(100))
    assert admitted == 5
    assert p.admit(Peer("udp", "127.0.0.1", 40001), T0)
    assert p.admit(Peer("tcp", "127.0.0.2", 40000), T0)


def test_all_ports_of_one_address_share_a_larger_budget() -> None:
    p = policy(rate_per_source=1.0, rate_burst=5, host_rate_factor=4)
    admitted = [
        sum(p.admit(Peer("udp", "198.51.100.1", port), T0) for _ in range(5))
        for port in range(40000, 40005)
    ]
    assert admitted == [5, 5, 5, 5, 0]  # 20 = 4 x 5 in all
    assert p.admit(Peer("udp", "198.51.100.1", 40000), T0 + 1.0)  # refilled after a second


def test_ipv6_sources_are_counted_per_64() -> None:
    assert (
        source_key("2001:db8:1:2::7") == source_key("2001:db8:1:2:ffff::1") == "2001:db8:1:2::/64"
    )
    assert source_key("2001:db8:1:3::7") == "2001:db8:1:3::/64"
    assert source_key("::ffff:192.0.2.1") == "192.0.2.1"
    assert source_key("192.0.2.1") == "192.0.2.1"
    assert source_key("pbx.example") == "pbx.example"
    p = policy(users=True, max_auth_failures=1)
    first = Peer("udp", "2001:db8:1:2::7", 5060)
    assert guess(p, first, password="x") == Reject(403)
    assert p.decide(invite(), Peer("udp", "2001:db8:1:2::8", 5060), T0) == Reject(403)


def test_the_failure_table_is_bounded_and_keeps_lockouts() -> None:
    p = policy(users=True, max_auth_failures=1, max_sources=3)
    locked = Peer("udp", "192.0.2.1", 5060)
    assert guess(p, locked, password="x") == Reject(403)
    relaxed = policy(users=True, max_auth_failures=2, max_sources=3)
    relaxed_locked = Peer("udp", "192.0.2.1", 5060)
    for peer in [relaxed_locked, relaxed_locked] + [
        Peer("udp", f"192.0.2.{i}", 5060) for i in range(2, 12)
    ]:
        challenge = relaxed.decide(invite(), peer, T0)
        if isinstance(challenge, Challenge):
            relaxed.decide(invite(auth=answer(challenge, password="x")), peer, T0)
    assert relaxed.table_sizes()["failures"] == 3
    assert relaxed.decide(invite(), relaxed_locked, T0) == Reject(403)  # still locked out


@pytest.mark.parametrize(
    "options",
    [
        {"max_calls": -1},
        {"max_calls_per_source": 0},
        {"max_auth_failures": 0},
        {"failure_window_s": 0},
        {"lockout_s": 0},
        {"rate_per_source": 0},
        {"rate_burst": 0},
        {"host_rate_factor": 0},
        {"max_sources": 0},
    ],
)
def test_config_rejects_nonsense(options: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        PolicyConfig(**options)  # type: ignore[arg-type]


def test_bad_networks_are_named() -> None:
    with pytest.raises(ValueError, match="'10.0.0.300'"):
        parse_networks(("10.0.0.0/8", "10.0.0.300"))
    assert [str(n) for n in parse_networks((" 10.1.2.0/24 ", "192.0.2.7"))] == [
        "10.1.2.0/24",
        "192.0.2.7/32",
    ]


def test_defaults_by_value() -> None:
    config = PolicyConfig()
    assert (config.max_calls, config.max_calls_per_source, config.max_auth_failures) == (20, 4, 5)
    assert (config.failure_window_s, config.lockout_s) == (600.0, 900.0)
    assert (config.rate_per_source, config.rate_burst, config.host_rate_factor) == (50.0, 100, 4)
    assert config.max_sources == 4096 and config.realm == "rathausbot"
    assert config.trusted == () and config.allowed_users is None and dict(config.auth_users) == {}
    assert Challenge("h").stale is False and Reject(403).headers == ()
    assert Accept(trusted=True).user is None


@pytest.mark.parametrize(
    "options",
    [
        {"max_calls": 0},
        {"max_calls_per_source": 1},
        {"max_auth_failures": 1},
        {"rate_burst": 1, "host_rate_factor": 1},
        {"max_sources": 1},
    ],
)
def test_config_accepts_the_smallest_sensible_values(options: dict[str, object]) -> None:
    PolicyConfig(**options)  # type: ignore[arg-type]


def test_networks_may_have_host_bits_set() -> None:
    assert [str(n) for n in parse_networks(("10.1.2.3/24",))] == ["10.1.2.0/24"]


def test_the_same_secret_answers_across_instances() -> None:
    """Gateways (or a restart) sharing a secret accept each other's nonces."""
    first, second = policy(users=True), policy(users=True)
    challenge = first.decide(invite(), STRANGER, T0)
    assert isinstance(challenge, Challenge)
    assert second.decide(invite(auth=answer(challenge)), STRANGER, T0) == Accept(False, "amt")
    other = InboundPolicy(PolicyConfig(auth_users=USERS))  # a random secret of its own
    assert isinstance(other.decide(invite(auth=answer(challenge)), STRANGER, T0), Challenge)


def test_call_counters_leave_no_entries_behind() -> None:
    p = policy(max_calls_per_source=1)
    p.call_started("127.0.0.1")
    p.call_started("127.0.0.1")
    assert p.table_sizes()["calls"] == 1
    p.call_ended("127.0.0.1")
    assert p.table_sizes()["calls"] == 1  # one call still up
    p.call_ended("127.0.0.1")
    assert p.table_sizes()["calls"] == 0 and p.calls == 0
    p.call_ended("127.0.0.1")
    assert p.table_sizes()["calls"] == 0 and p.calls == 0


def test_the_failure_window_and_the_lockout_end_exactly_at_their_limits() -> None:
    p = policy(users=True, max_auth_failures=2, failure_window_s=100.0, lockout_s=50.0)

    def fail(now: float) -> object:
        return guess(p, STRANGER, now, password="x")

    assert isinstance(fail(T0), Challenge)
    assert fail(T0 + 100.0) == Reject(403)  # exactly at the window's end: still counted
    assert p.decide(invite(), STRANGER, T0 + 149.9) == Reject(403)
    assert isinstance(p.decide(invite(), STRANGER, T0 + 150.0), Challenge)  # lockout over
    q = policy(users=True, max_auth_failures=2, failure_window_s=100.0)
    guess(q, STRANGER, password="x")
    later = q.decide(invite(), STRANGER, T0 + 100.5)
    assert isinstance(later, Challenge)
    assert isinstance(
        q.decide(invite(auth=answer(later, password="y")), STRANGER, T0 + 100.5), Challenge
    )


def test_the_burnt_nonce_table_is_bounded_and_forgets_the_oldest() -> None:
    p = policy(users=True, max_auth_failures=100, max_sources=2)
    challenges = []
    for n in range(3):
        challenge = p.decide(invite(), STRANGER, T0 + n)
        assert isinstance(challenge, Challenge)
        p.decide(invite(auth=answer(challenge, password="x")), STRANGER, T0 + n)
        challenges.append(challenge)
    assert p.table_sizes()["nonces"] == 2
    # The oldest was forgotten (its right answer passes); the newest is still burnt.
    assert p.decide(invite(auth=answer(challenges[0])), STRANGER, T0 + 3) == Accept(False, "amt")
    assert isinstance(p.decide(invite(auth=answer(challenges[2])), STRANGER, T0 + 3), Challenge)


def test_burnt_nonces_expire_with_the_nonce_lifetime() -> None:
    p = policy(users=True, max_auth_failures=100)
    guess(p, STRANGER, password="x")
    assert p.table_sizes()["nonces"] == 1
    late = p.decide(invite(), STRANGER, T0 + digest.NONCE_TTL_S + 1)
    assert isinstance(late, Challenge)
    p.decide(invite(auth=answer(late, password="y")), STRANGER, T0 + digest.NONCE_TTL_S + 1)
    assert p.table_sizes()["nonces"] == 1  # the first one's lifetime is over


def test_a_table_full_of_lockouts_still_stays_bounded() -> None:
    p = policy(users=True, max_auth_failures=1, max_sources=2)
    for n in range(1, 5):
        peer = Peer("udp", f"192.0.2.{n}", 5060)
        assert guess(p, peer, password="x") == Reject(403)
    assert p.table_sizes()["failures"] == 2
    assert p.decide(invite(), Peer("udp", "192.0.2.4", 5060), T0) == Reject(403)  # newest kept


def test_expired_entries_are_evicted_before_unlocked_ones() -> None:
    p = policy(users=True, max_auth_failures=5, failure_window_s=100.0, max_sources=2)

    def fail(host: str, now: float) -> None:
        peer = Peer("udp", host, 5060)
        guess(p, peer, now, password="x")

    fail("192.0.2.1", T0)  # will be expired
    fail("192.0.2.2", T0 + 150)  # fresh
    fail("192.0.2.2", T0 + 150)
    fail("192.0.2.3", T0 + 150)  # the table overflows: the expired one goes first
    assert p.table_sizes()["failures"] == 2
    for _ in range(3):
        fail("192.0.2.2", T0 + 150)  # 2 + 3 = 5 failures: its count was kept
    assert p.decide(invite(), Peer("udp", "192.0.2.2", 5060), T0 + 150) == Reject(403)
