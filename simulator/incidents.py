"""Incidents on demand: what an incident is, its spec syntax, and random draws for benchmarks.

``shop simulate --incident KIND[:START[:DURATION]][,key=value...]`` (repeatable):

* KIND: ``tracking-outage``, ``duplicate-storm``, ``late-burst``, ``price-bug``, ``checkout-break``,
  ``bot-traffic`` (``KINDS``; what each does: ``simulator.injection``).
* START: an ISO time (UTC when it has no offset), or ``+`` and a duration from the start of the
  simulated window (the history's start, an append's start, the moment a live stream starts).
  Empty or absent: a time drawn from the seed (history), the stream's start (live).
* DURATION: a number and a unit ``s``, ``m``, ``h``, ``d`` or ``w`` (``6h``, ``2d``, ``1.5h``);
  absent: the kind's default (``DEFAULT_DURATION``).
* options after commas: ``category=NAME`` (tracking-outage: default every category; price-bug:
  default one drawn from the seed; ``random`` draws one, ``all`` takes every category),
  ``copies=N`` (duplicate-storm), ``delay=DURATION`` (late-burst), ``factor=X`` (price-bug),
  ``keep=SHARE`` (checkout-break), ``views=N`` and ``user=ID`` (bot-traffic).

An ISO START has colons of its own: the last colon-separated part is DURATION only when it reads as
one (``2025-11-20T08:00:6h``), so ``2025-11-20T08:00`` is a START alone.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, fields
from datetime import datetime, timedelta, timezone

import numpy as np

from shopcore.errors import ShopError

TRACKING_OUTAGE = "tracking-outage"
DUPLICATE_STORM = "duplicate-storm"
LATE_BURST = "late-burst"
PRICE_BUG = "price-bug"
CHECKOUT_BREAK = "checkout-break"
BOT_TRAFFIC = "bot-traffic"
KINDS = (TRACKING_OUTAGE, DUPLICATE_STORM, LATE_BURST, PRICE_BUG, CHECKOUT_BREAK, BOT_TRAFFIC)

DEFAULT_DURATION = {
    TRACKING_OUTAGE: timedelta(hours=6),
    DUPLICATE_STORM: timedelta(hours=3),
    LATE_BURST: timedelta(days=1),  # "a day's events arrive days later"
    PRICE_BUG: timedelta(days=1),
    CHECKOUT_BREAK: timedelta(hours=6),
    BOT_TRAFFIC: timedelta(hours=6),
}
# The category an incident confines itself to when none is named: "all" or one drawn from the seed.
DEFAULT_CATEGORY = {TRACKING_OUTAGE: "all", PRICE_BUG: "random"}
DEFAULT_COPIES = 3  # duplicate-storm: extra deliveries of every event that arrives in the window
DEFAULT_DELAY = timedelta(days=3)  # late-burst: from the window's end to the burst of arrivals
DEFAULT_FACTOR = 100.0  # price-bug: the prices' multiplier (a cents/units mix-up)
DEFAULT_KEEP = 0.02  # checkout-break: the share of orders that still go through
DEFAULT_VIEWS = 5000  # bot-traffic: the bot's views over the window

# Which option each kind takes (and so which Incident field it may set).
OPTIONS = {
    TRACKING_OUTAGE: ("category",),
    DUPLICATE_STORM: ("copies",),
    LATE_BURST: ("delay",),
    PRICE_BUG: ("category", "factor"),
    CHECKOUT_BREAK: ("keep",),
    BOT_TRAFFIC: ("views", "user"),
}
_OPTION_FIELD = {"user": "user_id"}
_WHEN = ("kind", "start", "duration")  # the Incident fields every kind has; the others are options

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)([smhdw])$")
_DURATION_LIKE = re.compile(r"^-?\d+(?:\.\d+)?[a-zA-Z]+$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800}
_MAX_DURATION = timedelta(days=366)
_LONGEST_SPAN = timedelta(weeks=5200)  # any offset into a history, or duration, is shorter
_SYNTAX = ("KIND[:START[:DURATION]][,key=value...], e.g. tracking-outage:+30d:6h or "
           "price-bug:2025-11-20T08:00:2d,category=Books")


class IncidentError(ShopError):
    """An incident spec or Incident that cannot be injected; the message says what to write instead."""


@dataclass(frozen=True)
class Incident:
    """One incident to inject. ``start``: an absolute time, an offset from the window's start, or
    None (history: a time drawn from the seed; live: when the stream starts). Fields left None take
    the kind's defaults; the options a kind does not take must stay None."""

    kind: str
    start: datetime | timedelta | None = None
    duration: timedelta | None = None
    category: str | None = None
    copies: int | None = None
    delay: timedelta | None = None
    factor: float | None = None
    keep: float | None = None
    views: int | None = None
    user_id: int | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise IncidentError(f"unknown incident kind {self.kind!r}: one of {', '.join(KINDS)}")
        taken = {_OPTION_FIELD.get(o, o) for o in OPTIONS[self.kind]}
        for f in fields(self):
            if f.name not in _WHEN and getattr(self, f.name) is not None and f.name not in taken:
                raise IncidentError(f"{self.kind} takes no {f.name}: its options are "
                                    f"{', '.join(OPTIONS[self.kind]) or 'none'}")
        if self.category is not None and not self.category.strip():
            raise IncidentError("category is empty: name one, or write random or all")
        if isinstance(self.start, datetime) and self.start.tzinfo is None:
            object.__setattr__(self, "start", self.start.replace(tzinfo=timezone.utc))
        if isinstance(self.start, timedelta) and self.start < timedelta(0):
            raise IncidentError("a START offset counts from the window's start: it cannot be negative")
        _check_span("duration", self.duration, timedelta(seconds=1))
        _check_span("delay", self.delay, timedelta(minutes=1))
        _check_range("copies", self.copies, 1, 100, whole=True)
        _check_range("views", self.views, 1, 1_000_000, whole=True)
        _check_range("user", self.user_id, 1, 2**63 - 1, whole=True)
        _check_range("keep", self.keep, 0.0, 0.5)
        _check_range("factor", self.factor, 0.001, 1000.0)
        if self.factor is not None and self.factor == 1.0:
            raise IncidentError("factor=1 changes no price: a price bug needs another factor (100, 0.01)")

    @property
    def length(self) -> timedelta:
        """The duration, or the kind's default."""
        return self.duration if self.duration is not None else DEFAULT_DURATION[self.kind]

    @property
    def spec(self) -> str:
        """This incident in the --incident syntax (what truth.incidents records as asked)."""
        if isinstance(self.start, datetime):
            start = self.start.astimezone(timezone.utc).replace(tzinfo=None).isoformat()
        elif isinstance(self.start, timedelta):
            start = "+" + format_duration(self.start)
        else:
            start = ""
        text = f"{self.kind}:{start}:{format_duration(self.length)}"
        for option in OPTIONS[self.kind]:
            value = getattr(self, _OPTION_FIELD.get(option, option))
            if value is not None:
                text += f",{option}={format_duration(value) if isinstance(value, timedelta) else value}"
        return text


def _check_span(name: str, value: timedelta | None, least: timedelta) -> None:
    if value is not None and not (least <= value <= _MAX_DURATION):
        raise IncidentError(f"{name} must be between {format_duration(least)} and {format_duration(_MAX_DURATION)}, "
                            f"got {format_duration(value) if value > timedelta(0) else value}")


def _check_range(name: str, value: float | None, low: float, high: float, whole: bool = False) -> None:
    if value is None:
        return
    if whole and (isinstance(value, bool) or not isinstance(value, int)):
        raise IncidentError(f"{name} must be a whole number, got {value!r}")
    if not (isinstance(value, (int, float)) and math.isfinite(value) and low <= value <= high):
        raise IncidentError(f"{name} must be between {low:g} and {high:g}, got {value!r}")


def parse_duration(text: str) -> timedelta:
    """``6h``, ``2d``, ``1.5h``, ``90m``, ``30s``, ``1w`` as a timedelta."""
    match = _DURATION.match(text.strip().lower())
    if not match:
        raise IncidentError(f"{text!r} is not a duration: a number and a unit s, m, h, d or w (6h, 2d, 90m)")
    seconds = float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    if seconds > _LONGEST_SPAN.total_seconds():  # also an offset's limit; timedelta itself overflows further on
        raise IncidentError(f"{text!r} is too long: at most {format_duration(_LONGEST_SPAN)}")
    return timedelta(seconds=seconds)


def format_duration(span: timedelta) -> str:
    """The shortest whole spelling of a duration (``2d``, ``90m``), the form parse_duration reads."""
    seconds = span.total_seconds()
    for unit in ("w", "d", "h", "m"):
        if seconds >= _UNIT_SECONDS[unit] and seconds % _UNIT_SECONDS[unit] == 0:
            return f"{int(seconds // _UNIT_SECONDS[unit])}{unit}"
    return f"{seconds:.6f}".rstrip("0").rstrip(".") + "s"


def _parse_start(text: str) -> datetime | timedelta | None:
    text = text.strip()
    if not text:
        return None
    wrong = (f"START {text!r} is neither an ISO time (2025-11-20T08:00) nor an offset from the window's start "
             "(+30d, +6h)")
    if "=" in text:
        wrong += "; options go after a comma (price-bug:+2d,category=Books)"
    try:
        if text.startswith("+"):
            return parse_duration(text[1:])
        moment = datetime.fromisoformat(text)
    except (ValueError, IncidentError):
        raise IncidentError(wrong) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _split_start_duration(rest: str) -> tuple[str, str]:
    """START and DURATION of ``START[:DURATION]``, where START may hold colons of its own."""
    if ":" not in rest:
        return rest, ""
    head, _, last = rest.rpartition(":")
    # A duration-like tail (a number and letters, which an ISO time's last part never is but for
    # its "Z") is DURATION, so that a bad one is reported as a bad duration.
    looks_like = _DURATION_LIKE.match(last.strip()) and last.strip().lower() != "z" and not last.strip().lower().endswith("z")
    if not last.strip() or looks_like:
        return head, last
    return rest, ""


_OPTION_PARSERS = {
    "category": str.strip,
    "copies": int,
    "delay": parse_duration,
    "factor": float,
    "keep": float,
    "views": int,
    "user": int,
}


def parse_incident(spec: str) -> Incident:
    """An Incident from ``KIND[:START[:DURATION]][,key=value...]``; IncidentError says what is wrong."""
    head, *option_parts = spec.split(",")
    kind, _, rest = head.partition(":")
    kind = kind.strip().lower()
    if kind not in KINDS:
        raise IncidentError(f"{spec!r}: unknown incident kind {kind!r}; the kinds are {', '.join(KINDS)} "
                            f"(syntax: {_SYNTAX})")
    values: dict[str, object] = {}
    for part in option_parts:
        key, sep, value = part.partition("=")
        key = key.strip().lower()
        if not sep or not key:
            raise IncidentError(f"{spec!r}: options are key=value after a comma, got {part!r} (syntax: {_SYNTAX})")
        if key not in OPTIONS[kind]:
            raise IncidentError(f"{spec!r}: {kind} takes no option {key!r}; its options are "
                                f"{', '.join(OPTIONS[kind]) or 'none'}")
        try:
            values[_OPTION_FIELD.get(key, key)] = _OPTION_PARSERS[key](value)
        except ValueError as exc:
            raise IncidentError(f"{spec!r}: {key}={value.strip()!r} is not valid ({exc})") from None
    start_text, duration_text = _split_start_duration(rest)
    try:
        return Incident(
            kind=kind,
            start=_parse_start(start_text),
            duration=parse_duration(duration_text) if duration_text.strip() else None,
            **values,
        )
    except IncidentError as exc:
        raise IncidentError(f"{spec!r}: {exc}") from None


def footprint(incident: Incident) -> timedelta:
    """How long an incident keeps the data unusual: its window, and a late burst's wait for arrival."""
    extra = (incident.delay or DEFAULT_DELAY) + timedelta(hours=1) if incident.kind == LATE_BURST else timedelta(0)
    return incident.length + extra


def draw_incidents(
    seed: int,
    window_start: datetime,
    window_end: datetime,
    *,
    per_kind: int = 1,
    kinds: tuple[str, ...] = KINDS,
    gap: timedelta = timedelta(days=2),
    category_share: float = 0.5,
) -> list[Incident]:
    """``per_kind`` incidents of each kind at random times of ``[window_start, window_end)``, with
    their defaults, in seeded random order and at least ``gap`` apart (so that a detection can be
    matched to one incident). A tracking outage is confined to one random category with probability
    ``category_share``; a price bug always is. Raises IncidentError when they cannot fit."""
    rng = np.random.default_rng([seed, 0x1C1D])
    chosen = [kind for kind in kinds for _ in range(per_kind)]
    order = rng.permutation(len(chosen))
    drawn = []
    for i in order:
        kind = chosen[i]
        category = None
        if kind == TRACKING_OUTAGE and rng.random() < category_share:
            category = "random"
        drawn.append(Incident(kind=kind, category=category))
    spans = [footprint(incident) for incident in drawn]
    room = (window_end - window_start) - sum(spans, timedelta(0)) - gap * max(len(drawn) - 1, 0)
    if room < timedelta(0):
        raise IncidentError(f"{len(drawn)} incidents need {format_duration(sum(spans, timedelta(0)))} plus gaps: "
                            "more than the window holds; draw fewer or simulate more days")
    # Spread the spare time at random between them: sorted cut points, whole seconds.
    cuts = np.floor(np.sort(rng.random(len(drawn))) * room.total_seconds())
    out, before = [], timedelta(0)
    for incident, span, cut in zip(drawn, spans, cuts):
        start = window_start + timedelta(seconds=float(cut)) + before
        out.append(Incident(kind=incident.kind, start=start, category=incident.category))
        before += span + gap
    return out
