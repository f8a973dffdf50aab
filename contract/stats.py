"""The team statistics' Redis keys, shared by the gateway (`dialogue.metrics`, which counts
turns) and the action server (which counts callback requests). Counts only, no personal
data; see docs/data-model.md. Python 3.10 compatible."""

from __future__ import annotations

from datetime import date

MISS_INTENTS = frozenset({"nlu_fallback", "out_of_scope"})
"""Intents that mean the assistant could not help: the FallbackClassifier's low-confidence
`nlu_fallback` and the trained "none of these" `out_of_scope` (both ask to rephrase, see
intents/data/rules.yml)."""
STATS_DAY_PREFIX = "rb:stats:day:"
STATS_SESSION_PREFIX = "rb:stats:session:"
DEFAULT_KEEP_S = 731 * 86_400  # used only when a day hash has no expiry yet


def stats_day_key(day: date, channel: str) -> str:
    """`rb:stats:day:<YYYY-MM-DD>:<chat|phone|browser>`."""
    return f"{STATS_DAY_PREFIX}{day.isoformat()}:{channel}"


def stats_session_key(session_id: str) -> str:
    return STATS_SESSION_PREFIX + session_id


# KEYS: the session marker. ARGV: none. Marks the conversation as escalated (a case or a
# callback) once, on its home day; a fallback it ended on so far no longer counts as such.
MARK_ESCALATED_LUA = """
local home = redis.call('HGET', KEYS[1], 'day')
if not home or redis.call('HGET', KEYS[1], 'esc') == '1' then return 0 end
redis.call('HSET', KEYS[1], 'esc', '1')
redis.call('HINCRBY', home, 'escalated', 1)
if redis.call('HGET', KEYS[1], 'fb') == '1' then
  redis.call('HSET', KEYS[1], 'fb', '0')
  redis.call('HINCRBY', home, 'ended_on_fallback', -1)
end
return 1
"""

# KEYS: the day hash. ARGV: field, default expiry in seconds. Counts one event.
COUNT_LUA = """
redis.call('HINCRBY', KEYS[1], ARGV[1], 1)
if redis.call('TTL', KEYS[1]) < 0 then redis.call('EXPIRE', KEYS[1], ARGV[2]) end
return 1
"""


def stat_channel(webchat: bool, session_id: str) -> str:
    """`chat` for the web chat; `phone` for SIP calls (session ids `sip-…`); else `browser`."""
    if webchat:
        return "chat"
    return "phone" if session_id.startswith("sip-") else "browser"
