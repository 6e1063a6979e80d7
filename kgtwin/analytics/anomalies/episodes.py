"""Hysteresis and cool-down: turning reading-by-reading verdicts into anomalies that open, escalate and end.

A detector says of each reading whether it is *hot* (out of line), *critical*, or *cool* (back to
normal); readings in between keep the current state. An anomaly opens once a detector has been
hot for `persist` readings lasting `persist_for` (its start is the first of them); it ends after
`clear_after` cool readings of the detector that opened it, while no other is hot (its end is the
first of them); an excursion that starts again within `cooldown` of the end continues the same
anomaly. The detectors that judge a point's values share one anomaly at a time: the first to fire
owns it, the others that fire meanwhile are added to it and may escalate it. So a long excursion,
or one that flickers around a threshold, is one anomaly.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

from kgtwin.analytics.anomalies.config import Detector

Key = tuple[str, str]  # (subject uid: the point, or the element/space of a condition; family of detectors)

OPENED, REOPENED, ESCALATED, ENDED, SEEN = "opened", "reopened", "escalated", "ended", "seen"


@dataclass(frozen=True)
class Verdict:
    """One detector on one reading."""

    detector: str
    settings: Detector
    hot: bool
    critical: bool = False
    cool: bool = False
    score: float = 0.0
    quantity: float = float("nan")  # what it judged: the value, its slope, its rate, a gap
    since: int | None = None  # when the fault began, when earlier than the reading (a flat run, a gap)
    baseline: tuple[float, float] | None = None  # (center, scale) the reading was judged against
    settled: bool = False  # the detector's moving baseline finds the reading normal
    direction: float = 0.0  # +1 above its baseline (or rising), -1 below (or falling), 0 no side


@dataclass
class Episode:
    """One anomaly as the detectors follow it."""

    uid: str
    subject: str
    detector: str  # the one that opened it
    kind: str
    start: int
    detected: int
    severity: str
    value: float
    score: float
    last_seen: int
    message: str
    settings: Detector
    baseline: tuple[float, float] | None = None  # the opener's baseline, frozen while the anomaly is open
    direction: float = 0.0  # which side of that baseline it went: +1 above, -1 below
    detectors: list[str] = field(default_factory=list)
    end: int | None = None
    end_reason: str = ""
    cool: int = 0
    first_cool: int | None = None
    # Filled by whoever records it: the model and the uids its events concern.
    extra: dict[str, object] = field(default_factory=dict)

    @property
    def active(self) -> bool:
        return self.end is None


@dataclass(frozen=True)
class Change:
    what: str  # opened, reopened, escalated, ended, seen
    episode: Episode  # a snapshot as of the change (the live one for `seen`)
    time: int
    previous_severity: str | None = None


# (subject, verdict that opened it, reading value) -> a message for people
Describe = Callable[[str, Verdict, float], str]


def _plain_message(subject: str, verdict: Verdict, value: float) -> str:
    return f"{verdict.detector}: value {value:.6g}"


def _coming_back(ended: Episode, verdict: Verdict, ts: int) -> bool:
    """Moving baselines that took in an excursion see the way back as out of line the other way, for
    a while: within the cool-down that is the end of the excursion, not a new anomaly."""
    return verdict.direction * ended.direction < 0 and ts - (ended.end or ts) <= ended.settings.cooldown


class EpisodeTracker:
    """Open anomalies by key, the recently ended ones (for the cool-down) and persistence runs."""

    def __init__(self, kind_of: Callable[[str], str], describe: Describe = _plain_message) -> None:
        self.kind_of = kind_of
        self.describe = describe
        self.open: dict[Key, Episode] = {}
        self.ended: dict[Key, Episode] = {}
        self.pending: dict[Key, dict[str, tuple[int, int]]] = {}  # key -> detector -> (run start, readings)
        self._changes: list[Change] = []
        self._seen: dict[str, Episode] = {}

    def engaged(self, key: Key) -> bool:
        """Whether the key needs reading-by-reading attention (open, or in a persistence run)."""
        return key in self.open or key in self.pending

    def step(self, key: Key, ts: int, value: float, verdicts: Sequence[Verdict]) -> None:
        """One reading, judged by the detectors of the key's family (in order of precedence).

        While nothing is open only the hot verdicts are needed; while an anomaly is open, the verdict
        of the detector that opened it and those of any hot ones.
        """
        episode = self.open.get(key)
        if episode is None:
            # Only hot verdicts matter here; a detector not hot on this reading ends its persistence run.
            runs, continued = self.pending.pop(key, {}), {}
            recent = self.ended.get(key)
            for verdict in verdicts:
                if not verdict.hot:
                    continue
                if recent is not None and _coming_back(recent, verdict, ts):
                    continue
                start, readings = runs.get(verdict.detector, (verdict.since if verdict.since is not None else ts, 0))
                readings += 1
                if readings >= verdict.settings.persist and ts - start >= verdict.settings.persist_for:
                    self._open(key, ts, start, value, verdict)
                    return
                continued[verdict.detector] = (start, readings)
            if continued:
                self.pending[key] = continued
            return
        owner = next((v for v in verdicts if v.detector == episode.detector), None)
        # Another detector hot the other way sees the signal coming back, not going further out.
        hot = [v for v in verdicts if v.hot and v.direction * episode.direction >= 0]
        others_hot = [v for v in hot if v is not owner]
        if hot:
            episode.last_seen = ts
            self._seen[episode.uid] = episode
            for verdict in others_hot:
                if verdict.detector not in episode.detectors:
                    episode.detectors.append(verdict.detector)
            if owner is not None and owner.hot and owner.score > episode.score:
                episode.score, episode.value = owner.score, value
            if any(v.critical for v in hot) and episode.severity != "critical":
                previous, episode.severity = episode.severity, "critical"
                self._changes.append(Change(ESCALATED, self._snapshot(episode), ts, previous))
        settings = episode.settings
        owner_cool = owner.cool if owner is not None else True
        if owner_cool and not others_hot:
            if episode.cool == 0:
                episode.first_cool = ts
            episode.cool += 1
            if episode.cool >= settings.clear_after:
                self.finish(key, episode.first_cool or ts, "back to normal")
                return
        else:
            episode.cool, episode.first_cool = 0, None
        accept = settings.accept_after
        if accept is not None and owner is not None and owner.settled and ts - episode.start >= accept:
            self.finish(key, ts, "lasted longer than accept_after: taken as the new normal")

    def _open(self, key: Key, ts: int, start: int, value: float, verdict: Verdict) -> None:
        severity = "critical" if verdict.critical else verdict.settings.severity
        previous = self.ended.pop(key, None)
        if previous is not None and previous.end is not None and start - previous.end <= previous.settings.cooldown:
            # The same excursion coming back: it continues the anomaly that just ended.
            previous.end, previous.end_reason, previous.cool, previous.first_cool = None, "", 0, None
            previous.last_seen = ts
            if verdict.detector == previous.detector and verdict.score > previous.score:
                previous.score, previous.value = verdict.score, value
            if verdict.detector not in previous.detectors:
                previous.detectors.append(verdict.detector)
            if severity == "critical":
                previous.severity = "critical"
            self.open[key] = previous
            self._changes.append(Change(REOPENED, self._snapshot(previous), ts))
            return
        baseline = verdict.baseline
        episode = Episode(
            uid=f"anomaly:{uuid.uuid4().hex}",
            subject=key[0],
            detector=verdict.detector,
            kind=self.kind_of(verdict.detector),
            start=start,
            detected=ts,
            severity=severity,
            value=value,
            score=verdict.score,
            last_seen=ts,
            message=self.describe(key[0], verdict, value),
            settings=verdict.settings,
            baseline=baseline,
            direction=verdict.direction,
            detectors=[verdict.detector],
        )
        self.open[key] = episode
        self._changes.append(Change(OPENED, self._snapshot(episode), ts))

    def finish(self, key: Key, end: int, reason: str) -> None:
        """End an open anomaly (silence ends when a reading arrives; detectors end theirs through step)."""
        episode = self.open.pop(key, None)
        if episode is None:
            return
        episode.end, episode.end_reason = max(end, episode.start), reason
        self._seen.pop(episode.uid, None)
        self.ended[key] = episode
        self._changes.append(Change(ENDED, self._snapshot(episode), end))

    def adopt(self, key: Key, episode: Episode) -> None:
        """Continue an anomaly recorded before a restart."""
        self.open[key] = episode

    @staticmethod
    def _snapshot(episode: Episode) -> Episode:
        return replace(episode, detectors=list(episode.detectors))

    def drain(self, now: int | None = None) -> list[Change]:
        """The changes since the last drain; open anomalies that saw new readings once each as `seen`."""
        changes = self._changes + [Change(SEEN, e, e.last_seen) for e in self._seen.values() if e.active]
        self._changes, self._seen = [], {}
        if now is not None and len(self.ended) > 10_000:
            self.ended = {k: e for k, e in self.ended.items() if (e.end or 0) + e.settings.cooldown >= now}
        return changes
