"""The statistics page (`/console/statistik`, roles `teamleitung` and `admin`): team totals
per day, week or month and channel, as SVG charts with their data tables, and as CSV.
Read-only; no figure names or ranks a clerk (the staff council's condition)."""

from __future__ import annotations

from datetime import date, datetime

from redis.asyncio import Redis
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route
from starlette.templating import Jinja2Templates

from console.roles import Role
from console.stats import (
    Period,
    Totals,
    chart,
    combined,
    latency_label,
    read_totals,
    to_csv,
    wait_label,
)
from console.web import Guard, Staff, guarded
from contract.payloads import HandoffReason
from dialogue.metrics import BERLIN, LATENCY_BUCKETS_MS, WAIT_BUCKETS_S, Count, StatChannel

STATS_ROLES = frozenset({Role.TEAM_LEAD, Role.ADMIN})
REASON_LABELS = {
    HandoffReason.USER_REQUEST.value: "Wunsch nach einer Person",
    HandoffReason.FALLBACK.value: "Nicht verstanden",
    HandoffReason.COMPLAINT.value: "Beschwerde",
    HandoffReason.OUTSIDE_HOURS.value: "Außerhalb der Servicezeiten",
    HandoffReason.UNSPECIFIED.value: "Ohne Angabe",
}


class StatsPages:
    def __init__(self, *, guard: Guard, redis: Redis, views: Jinja2Templates) -> None:
        self._guard = guard
        self._redis = redis
        self._views = views

    def routes(self) -> list[BaseRoute]:
        g, roles = self._guard, STATS_ROLES
        return [
            Route("/statistik", guarded(g, roles, self.page), methods=["GET"]),
            Route("/statistik.csv", guarded(g, roles, self.csv), methods=["GET"]),
        ]

    @staticmethod
    def _query(request: Request) -> tuple[Period, date, StatChannel | None]:
        params = request.query_params
        try:
            period = Period(params.get("zeitraum", Period.WEEK.value))
        except ValueError:
            period = Period.WEEK
        try:
            anchor = date.fromisoformat(params.get("datum", "")[:10])
        except ValueError:
            anchor = datetime.now(BERLIN).date()
        try:
            channel: StatChannel | None = StatChannel(params.get("kanal", ""))
        except ValueError:
            channel = None
        return period, anchor, channel

    async def _totals(
        self, period: Period, anchor: date, channel: StatChannel | None
    ) -> tuple[list[date], dict[StatChannel, Totals]]:
        days = period.days(anchor)
        channels = list(StatChannel) if channel is None else [channel]
        return days, await read_totals(self._redis, days, channels)

    async def page(self, request: Request, staff: Staff) -> Response:
        period, anchor, channel = self._query(request)
        days, per_channel = await self._totals(period, anchor, channel)
        total = combined(list(per_channel.values()))
        reasons = [(REASON_LABELS.get(r, r), n) for r, n in total.prefixed("handoff:")]
        charts = [
            chart(
                "Gespräche nach Kanal",
                [(c.label, t.conversations) for c, t in per_channel.items()],
            ),
            chart("Übergaben nach Grund", reasons),
            chart("Häufigste Anliegen (Intents)", total.prefixed("intent:")[:10]),
            chart("Nachrichten nach Uhrzeit", total.hours()),
            chart(
                "Wartezeit bis zur Übernahme",
                [(wait_label(b), n) for b, n in total.histogram("wait", WAIT_BUCKETS_S)],
            ),
        ]
        context = {
            "staff": staff,
            "csrf": staff.session.csrf,
            "periods": list(Period),
            "channels": list(StatChannel),
            "period": period,
            "anchor": anchor.isoformat(),
            "channel": channel,
            "first": days[0],
            "last": days[-1],
            "total": total,
            "handoffs": sum(n for _, n in reasons),
            "fallbacks": total.get(Count.FALLBACKS.value),
            "charts": charts,
            "callbacks_due": total.get(Count.CALLBACKS_DUE.value),
            "callbacks_done": total.get(Count.CALLBACKS_DONE.value),
            "wait_median": wait_label(total.quantile("wait", WAIT_BUCKETS_S, 0.5)),
            "latency_p50": latency_label(total.quantile("latency", LATENCY_BUCKETS_MS, 0.5)),
            "latency_p95": latency_label(total.quantile("latency", LATENCY_BUCKETS_MS, 0.95)),
        }
        return self._views.TemplateResponse(request, "statistik.html", context)

    async def csv(self, request: Request, staff: Staff) -> Response:
        period, anchor, channel = self._query(request)
        days, per_channel = await self._totals(period, anchor, channel)
        name = f"statistik-{days[0].isoformat()}-{days[-1].isoformat()}.csv"
        return Response(
            to_csv(days, per_channel),
            media_type="text/csv; charset=utf-8",
            headers={"content-disposition": f'attachment; filename="{name}"'},
        )
