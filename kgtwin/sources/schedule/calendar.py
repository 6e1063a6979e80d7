"""Working time: the calendars schedules count durations, lags and float in, and how dates are read.

A calendar is its working weekdays and the daily periods worked on them. Moments are naive
datetimes in UTC (the graph stores epoch milliseconds UTC); a period may end at midnight
(`24:00`), which the elapsed calendar's single period does.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

import orjson

from kgtwin.errors import KgtwinError

DEFAULT_PERIODS = ((dt.time(8), dt.time(16)),)
WORK_WEEK = frozenset({1, 2, 3, 4, 5})
END_OF_DAY = dt.time.max  # a period ending at 24:00
_DAY = dt.timedelta(days=1)
_SEARCH_DAYS = 3660


class ScheduleError(KgtwinError):
    """A schedule that cannot be read, derived or computed; nothing was written."""

    exit_code = 2


def parse_time_of_day(text: str) -> dt.time:
    """`08:00`, `16:30:00`; `24:00` (or `00:00` as an end) is the end of the day."""
    if text.strip() in ("24:00", "24:00:00"):
        return END_OF_DAY
    try:
        return dt.time.fromisoformat(text.strip())
    except ValueError:
        raise ScheduleError(f"{text!r} is not a time of day such as 08:00") from None


def _clock(value: dt.time) -> str:
    return "24:00" if value == END_OF_DAY else value.strftime("%H:%M:%S" if value.second else "%H:%M")


@dataclass(frozen=True)
class WorkCalendar:
    weekdays: frozenset[int] = WORK_WEEK  # ISO weekdays, Monday = 1
    periods: tuple[tuple[dt.time, dt.time], ...] = DEFAULT_PERIODS

    def __post_init__(self) -> None:
        if not self.weekdays or not any(a < b for a, b in self.periods):
            raise ScheduleError("a work calendar needs at least one working weekday and one working period")

    def _day_periods(self, day: dt.date) -> list[tuple[dt.datetime, dt.datetime]]:
        if day.isoweekday() not in self.weekdays:
            return []
        return [
            (
                dt.datetime.combine(day, a),
                dt.datetime.combine(day + _DAY, dt.time()) if b == END_OF_DAY else dt.datetime.combine(day, b),
            )
            for a, b in self.periods
            if a < b
        ]

    @property
    def daily_hours(self) -> float:
        """Hours of one working day: what a `d` of duration or lag means on this calendar."""
        day = dt.date(2024, 1, 1)  # the periods are the same on every working day
        return sum((b - a).total_seconds() for a, b in WorkCalendar(periods=self.periods)._day_periods(day)) / 3600

    def snap(self, moment: dt.datetime) -> dt.datetime:
        """The first working instant at or after `moment` (the end of a period is not one)."""
        day = moment.date()
        for _ in range(_SEARCH_DAYS):
            for start, end in self._day_periods(day):
                if moment < end:
                    return max(moment, start)
            day += _DAY
            moment = dt.datetime.combine(day, dt.time())
        raise ScheduleError("the work calendar has no working time in ten years")

    def snap_back(self, moment: dt.datetime) -> dt.datetime:
        """The last working instant at or before `moment` (the end of a period is one, its start not)."""
        day = moment.date()
        for _ in range(_SEARCH_DAYS):
            for start, end in reversed(self._day_periods(day)):
                if moment > start:
                    return min(moment, end)
            day -= _DAY
            moment = dt.datetime.combine(day + _DAY, dt.time())
        raise ScheduleError("the work calendar has no working time in ten years")

    def add(self, moment: dt.datetime, hours: float) -> dt.datetime:
        """`hours` of working time after `moment`; a task ending at a period's end stays there.

        No time after a moment is that moment, working or not (a milestone, a link without lag).
        """
        if hours <= 0:
            return self.subtract(moment, -hours) if hours else moment
        moment = self.snap(moment)
        remaining = dt.timedelta(hours=hours)
        while True:
            end = next(e for s, e in self._day_periods(moment.date()) if s <= moment < e)
            if remaining <= end - moment:
                return moment + remaining
            remaining -= end - moment
            moment = self.snap(end)

    def subtract(self, moment: dt.datetime, hours: float) -> dt.datetime:
        """`hours` of working time before `moment`; a task starting at a period's start stays there."""
        if hours < 0:
            return self.add(moment, -hours)
        remaining = dt.timedelta(hours=hours)
        day = moment.date()
        for _ in range(_SEARCH_DAYS * 10):
            if remaining <= dt.timedelta(0):
                return moment
            for start, end in reversed(self._day_periods(day)):
                end = min(end, moment)
                if end <= start:
                    continue
                if remaining <= end - start:
                    return end - remaining
                remaining -= end - start
            day -= _DAY
            moment = dt.datetime.combine(day + _DAY, dt.time())
        raise ScheduleError("the work calendar has too little working time for this duration")

    def hours_between(self, start: dt.datetime, end: dt.datetime) -> float:
        """Working hours from `start` to `end` (negative when `end` is earlier)."""
        if end < start:
            return -self.hours_between(end, start)
        total = dt.timedelta(0)
        day = start.date()
        while day <= end.date():
            for a, b in self._day_periods(day):
                lo, hi = max(a, start), min(b, end)
                if hi > lo:
                    total += hi - lo
            day += _DAY
        return total.total_seconds() / 3600

    @property
    def spec(self) -> str:
        """The calendar as people write it: `1-5 08:00-16:00` (what parse_calendar_spec reads)."""
        days = sorted(self.weekdays)
        runs: list[list[int]] = []
        for day in days:
            if runs and day == runs[-1][-1] + 1:
                runs[-1].append(day)
            else:
                runs.append([day])
        weekdays = ",".join(f"{r[0]}-{r[-1]}" if len(r) > 1 else str(r[0]) for r in runs)
        return f"{weekdays} " + ",".join(f"{_clock(a)}-{_clock(b)}" for a, b in self.periods)

    def to_text(self) -> str:
        """The calendar as the JSON text an activity carries in the graph (`calendar`)."""
        return orjson.dumps(
            {"weekdays": sorted(self.weekdays), "periods": [[_clock(a), _clock(b)] for a, b in self.periods]}
        ).decode()

    @classmethod
    def from_text(cls, text: str | None) -> WorkCalendar:
        """The calendar an activity carries; none means elapsed time (every hour of every day)."""
        if not text:
            return ELAPSED
        try:
            spec = orjson.loads(text)
            return cls(
                weekdays=frozenset(int(d) for d in spec["weekdays"]),
                periods=tuple((parse_time_of_day(a), parse_time_of_day(b)) for a, b in spec["periods"]),
            )
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            raise ScheduleError(f"calendar {text!r} is not {{weekdays: [1..7], periods: [[from, to]]}}") from None


ELAPSED = WorkCalendar(weekdays=frozenset(range(1, 8)), periods=((dt.time(0), END_OF_DAY),))


def epoch_ms(moment: dt.datetime | None) -> int | None:
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return round(moment.timestamp() * 1000)


def from_ms(value: int | float | None) -> dt.datetime | None:
    if value is None:
        return None
    return dt.datetime(1970, 1, 1) + dt.timedelta(milliseconds=int(value))


_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def parse_moment(text: str, *, end_of_day: bool = False) -> dt.datetime:
    """An ISO 8601 date or date-time as a naive UTC moment; a zone-less time is UTC.

    A date alone means the start of that day, or (`end_of_day`, for finish dates, which schedules
    state inclusively) the end of it.
    """
    value = text.strip()
    try:
        if _DATE_ONLY.match(value):
            day = dt.date.fromisoformat(value)
            return dt.datetime.combine(day + _DAY if end_of_day else day, dt.time())
        moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ScheduleError(
            f"{text!r} is not a date or date-time (ISO 8601, e.g. 2026-03-02 or 2026-03-02T08:00)"
        ) from None
    return moment.astimezone(dt.UTC).replace(tzinfo=None) if moment.tzinfo else moment


_SPEC = re.compile(r"^\s*(?P<days>[1-7](?:\s*[-,]\s*[1-7])*)\s+(?P<periods>\S.*)$")


def parse_calendar_spec(text: str) -> WorkCalendar:
    """`1-5 08:00-16:00` or `1-6 07:00-12:00,13:00-17:00`: ISO weekdays (Monday = 1), then periods."""
    match = _SPEC.match(text)
    if not match:
        raise ScheduleError(f"calendar {text!r} is not like '1-5 08:00-16:00' (weekdays, then working periods)")
    weekdays: set[int] = set()
    for part in match.group("days").replace(" ", "").split(","):
        first, _, last = part.partition("-")
        weekdays.update(range(int(first), int(last or first) + 1))
    periods = []
    for period in match.group("periods").replace(" ", "").split(","):
        start, sep, end = period.partition("-")
        if not sep:
            raise ScheduleError(f"calendar period {period!r} is not like 08:00-16:00")
        periods.append((parse_time_of_day(start), parse_time_of_day(end)))
    return WorkCalendar(weekdays=frozenset(weekdays), periods=tuple(sorted(periods)))


_DURATION = re.compile(r"^\s*([+-]?\d+(?:\.\d+)?)\s*([hdw]?)\s*$", re.IGNORECASE)


def parse_work_hours(text: str | float | int, calendar: WorkCalendar) -> float:
    """A duration or lag as working hours: `16h`, `2d` (working days of the calendar), `1w`, a number is days."""
    if isinstance(text, (int, float)):
        return float(text) * calendar.daily_hours
    match = _DURATION.match(str(text))
    if not match:
        raise ScheduleError(f"{text!r} is not a duration such as 16h, 2d or 1w")
    amount, unit = float(match.group(1)), (match.group(2) or "d").lower()
    days = {"h": None, "d": 1.0, "w": len(calendar.weekdays)}[unit]
    return amount if days is None else amount * days * calendar.daily_hours
