"""Streaming detectors for many points at once: a batch of readings in, anomaly changes out.

Per point the state is small and fixed: the last `window` values for the robust z-score, a few
exponentially weighted moments for the z-score and the drift, the current flat run and the
expected interval. A batch is arranged as a matrix (points × their readings, grouped by how many
readings a point has) and every detector scores all of it with numpy; only points with an
out-of-line reading or an open anomaly go through the reading-by-reading hysteresis in Python.
Scores depend only on the readings before each one, so a series gives the same anomalies whether
it arrives one reading at a time or as one batch (the offline scan relies on that), up to the
moving statistics restarting after a stuck run, which happens from the start of a round.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from kgtwin.analytics.anomalies.config import KIND_OF, Detector, DetectorConfig, Drift, PointSettings, RobustZ, ZScore
from kgtwin.analytics.anomalies.episodes import Change, Episode, EpisodeTracker, Key, Verdict

MAD_TO_SIGMA = 1.4826  # the MAD of a normal distribution times this is its standard deviation
MEAN_DEV_TO_SIGMA = 1.2533  # likewise for the mean absolute deviation
_BLOCK_ELEMENTS = 1 << 20  # sliding windows are scored in blocks of about this many values (8 MB)
# Detectors judging a point's values share one anomaly at a time, in this order of precedence; a
# stuck sensor and a silent one are faults of their own.
FAMILIES = {
    "value": ("limits", "robust_z", "rate", "zscore", "drift"),
    "flatline": ("flatline",),
    "silence": ("silence",),
}
# The robust z-score takes the median of its window once every this many readings of a point.
MEDIAN_BLOCK = 8
# Moving statistics clip their updates against references (the spread, the typical change) taken
# at every ROUND-th reading of a point: fixed points in its own count, so a series gives the same
# anomalies whether it arrives one reading at a time or as one batch (the backtest relies on that).
ROUND = 256
# Moving means and variances take a reading's distance from the mean clipped to this many
# deviations, so an excursion does not inflate the spread it is judged by (a Huber-type update).
CLIP = 3.0
# The drift detector takes out steps: a change between readings beyond this many times the typical
# change is a jump (what the outlier detector judges), and only the rest goes into the trend.
STEP = 6.0


@dataclass(frozen=True)
class PointMeta:
    """What the detectors need to know of a point."""

    uid: str
    ids: tuple[str, ...] = ()  # other ids it goes by (the field's pointId)
    brick_class: str | None = None
    unit: str | None = None
    min_limit: float | None = None
    max_limit: float | None = None
    interval_ms: float | None = None  # expected time between readings, when declared
    model: str | None = None


@dataclass
class Scores:
    """One detector's verdict on every reading of a block (points × readings)."""

    hot: np.ndarray
    critical: np.ndarray
    cool: np.ndarray
    score: np.ndarray
    quantity: np.ndarray  # what was judged: the value, its slope, its rate
    center: np.ndarray | None = None  # z-like detectors: the baseline, frozen while an anomaly is open
    scale: np.ndarray | None = None
    since: np.ndarray | None = None  # when the fault began, if not at the reading (flat runs)
    direction: np.ndarray | None = None  # +1 / -1: which way the reading is out of line


@lru_cache(maxsize=256)
def _ew_matrix(alpha: float, size: int) -> np.ndarray:
    """A[j, i] = alpha (1 - alpha)^(j - i) for i <= j: one step of every EW recurrence in a chunk."""
    j = np.arange(size)
    lag = j[:, None] - j[None, :]
    return np.where(lag >= 0, alpha * (1.0 - alpha) ** np.maximum(lag, 0), 0.0)


def ew_scan(start: np.ndarray, inputs: np.ndarray, alpha: float, chunk: int = 128) -> np.ndarray:
    """y_j = (1 - alpha) y_(j-1) + alpha u_j along each row from y_(-1) = start; every y_j.

    Many points with a few readings each: a step per reading, vectorised over the points. Few
    points with many readings (a backtest): a triangular matrix product per chunk of readings,
    centred on the start value so large values keep their precision.
    """
    rows, cols = inputs.shape
    out = np.empty((rows, cols))
    previous = start.astype(float, copy=True)
    if rows >= cols:
        keep = 1.0 - alpha
        for j in range(cols):
            previous = keep * previous + alpha * inputs[:, j]
            out[:, j] = previous
        return out
    for first in range(0, cols, chunk):
        block = inputs[:, first : first + chunk]
        weights = _ew_matrix(alpha, block.shape[1])
        out[:, first : first + block.shape[1]] = previous[:, None] + (block - previous[:, None]) @ weights.T
        previous = out[:, first + block.shape[1] - 1]
    return out


def _before(start: np.ndarray, after: np.ndarray) -> np.ndarray:
    """The state before each reading, from the state after each one."""
    return np.concatenate([start[:, None], after[:, :-1]], axis=1)


def _last(matrix: np.ndarray, counts: np.ndarray) -> np.ndarray:
    return matrix[np.arange(matrix.shape[0]), counts - 1]


class _Columns:
    """Per-point state as parallel numpy arrays that grow as points are added."""

    SPEC: tuple[tuple[str, type, float], ...] = (
        ("count", np.int64, 0),
        ("last_ts", np.int64, -1),
        ("last_value", np.float64, np.nan),
        ("z_mean", np.float64, 0.0),
        ("z_var", np.float64, 0.0),
        ("d_origin_ts", np.int64, 0),
        ("d_origin_x", np.float64, 0.0),
        ("d_t", np.float64, 0.0),
        ("d_x", np.float64, 0.0),
        ("d_tt", np.float64, 0.0),
        ("d_tx", np.float64, 0.0),
        ("rz_center", np.float64, np.nan),
        ("rz_scale", np.float64, np.nan),
        ("d_step", np.float64, 0.0),
        ("d_steps", np.int64, 0),
        ("d_step_ref", np.float64, np.nan),
        ("d_ref", np.float64, np.nan),
        ("z_ref", np.float64, np.nan),
        ("d_offset", np.float64, 0.0),
        ("d_mean", np.float64, 0.0),
        ("d_var", np.float64, 0.0),
        ("resolution", np.float64, np.inf),
        ("flat_run", np.int64, 0),
        ("flat_start", np.int64, -1),
        ("flat_hot", np.bool_, False),
        ("warm_from", np.int64, 0),
        ("iv_declared", np.float64, np.nan),
        ("iv_learned", np.float64, np.nan),
        ("iv_samples", np.int64, 0),
        ("lo", np.float64, np.nan),
        ("hi", np.float64, np.nan),
        ("critical_lo", np.float64, np.nan),
        ("critical_hi", np.float64, np.nan),
        ("profile", np.int64, 0),
        ("row", np.int64, 0),
    )

    def __init__(self, capacity: int = 1024) -> None:
        self.size = 0
        self.arrays = {name: np.full(capacity, fill, dtype) for name, dtype, fill in self.SPEC}

    def add(self) -> int:
        capacity = len(self.arrays["count"])
        if self.size == capacity:
            for name, dtype, fill in self.SPEC:
                grown = np.full(capacity * 2, fill, dtype)
                grown[:capacity] = self.arrays[name]
                self.arrays[name] = grown
        self.size += 1
        return self.size - 1

    def __getattr__(self, name: str) -> np.ndarray:
        try:
            return self.__dict__["arrays"][name]  # type: ignore[no-any-return]
        except KeyError:
            raise AttributeError(name) from None


class _Profile:
    """Points that share their detector settings, with their windows of recent values."""

    def __init__(self, settings: PointSettings) -> None:
        self.settings = settings
        self.ring = np.full((16, settings.robust_z.window), np.nan)
        self.size = 0

    def add(self) -> int:
        if self.size == self.ring.shape[0]:
            grown = np.full((self.size * 2, self.ring.shape[1]), np.nan)
            grown[: self.size] = self.ring
            self.ring = grown
        self.size += 1
        return self.size - 1


class DetectorBank:
    """Every point's detectors and their anomalies.

    `silence_from_gaps`: a backtest has no clock beside the readings, so a gap between two readings
    stands for the silence timer; live, `check_silence` runs on a timer instead.
    """

    def __init__(self, config: DetectorConfig, *, started: int, silence_from_gaps: bool = False) -> None:
        self.config = config
        self.started = started
        self.silence_from_gaps = silence_from_gaps
        self.points: list[PointMeta] = []
        self.index: dict[str, int] = {}
        self.state = _Columns()
        self.profiles: list[_Profile] = []
        self._profile_of: dict[PointSettings, int] = {}
        self.engaged = {family: np.zeros(1024, bool) for family in FAMILIES}
        self.tracker = EpisodeTracker(lambda detector: KIND_OF.get(detector, detector), self._describe)

    # -- points -------------------------------------------------------------------------------

    def add_point(self, meta: PointMeta) -> int:
        """Register a point (or update its settings, keeping its state when they are unchanged)."""
        settings = self.config.settings_for((meta.uid, *meta.ids), meta.brick_class)
        s = self.state
        existing = self.index.get(meta.uid)
        if existing is not None and self.profiles[s.profile[existing]].settings == settings:
            idx = existing
            self.points[idx] = meta
        else:
            idx = existing if existing is not None else s.add()
            if existing is None:
                self.points.append(meta)
                self.index[meta.uid] = idx
                for family, engaged in self.engaged.items():
                    if len(engaged) <= idx:
                        self.engaged[family] = np.concatenate([engaged, np.zeros(len(engaged), bool)])
            else:
                self.points[idx] = meta
            profile = self._profile_of.get(settings)
            if profile is None:
                profile = self._profile_of[settings] = len(self.profiles)
                self.profiles.append(_Profile(settings))
            s.profile[idx], s.row[idx] = profile, self.profiles[profile].add()
        limits = settings.limits
        s.lo[idx] = _nan(limits.min if limits.min is not None else meta.min_limit)
        s.hi[idx] = _nan(limits.max if limits.max is not None else meta.max_limit)
        s.critical_lo[idx], s.critical_hi[idx] = _nan(limits.critical_min), _nan(limits.critical_max)
        declared = settings.silence.interval or meta.interval_ms
        s.iv_declared[idx] = _nan(declared if declared and declared > 0 else None)
        return idx

    def settings_of(self, idx: int) -> PointSettings:
        return self.profiles[self.state.profile[idx]].settings

    # -- readings -----------------------------------------------------------------------------

    def observe(self, points: np.ndarray, ts: np.ndarray, values: np.ndarray) -> None:
        """Score readings (point indices, epoch ms, values in the point's unit).

        Readings not newer than the point's last one (late, repeated) are left out: they were
        stored, but detectors follow each point forwards in time.
        """
        if points.size == 0:
            return
        order = np.lexsort((ts, points))
        points, ts, values = points[order], ts[order].astype(np.int64), values[order].astype(float)
        keep = ts > self.state.last_ts[points]
        keep[1:] &= ~((points[1:] == points[:-1]) & (ts[1:] == ts[:-1]))
        keep &= np.isfinite(values)
        points, ts, values = points[keep], ts[keep], values[keep]
        if points.size == 0:
            return
        first = np.r_[True, points[1:] != points[:-1]]
        rank = np.arange(points.size) - np.maximum.accumulate(np.where(first, np.arange(points.size), 0))
        count0 = self.state.count[points]
        # Each point's readings are scored in its own rounds of ROUND readings, whatever the batches.
        rounds = (count0 + rank) // ROUND - count0 // ROUND
        for turn in range(int(rounds.max()) + 1):
            chosen = rounds == turn if turn or rounds.max() else slice(None)
            p, t, v = points[chosen], ts[chosen], values[chosen]
            profiles = self.state.profile[p]
            for profile in np.unique(profiles):
                mask = profiles == profile
                self._observe_profile(int(profile), p[mask], t[mask], v[mask])

    def _observe_profile(self, profile: int, points: np.ndarray, ts: np.ndarray, values: np.ndarray) -> None:
        starts = np.flatnonzero(np.r_[True, points[1:] != points[:-1]])
        counts = np.diff(np.r_[starts, points.size])
        # Points with similar numbers of readings share a block, so padding stays under half of it.
        size_class = np.ceil(np.log2(counts)).astype(int)
        for group in np.unique(size_class):
            rows = np.flatnonzero(size_class == group)
            self._observe_block(profile, points[starts[rows]], starts[rows], counts[rows], ts, values)

    def _observe_block(
        self,
        profile: int,
        points: np.ndarray,
        starts: np.ndarray,
        counts: np.ndarray,
        ts: np.ndarray,
        values: np.ndarray,
    ) -> None:
        width = int(counts.max())
        column = np.arange(width)
        # Rows shorter than the block repeat their last reading (finite, so matrix products stay clean).
        take = starts[:, None] + np.minimum(column[None, :], counts[:, None] - 1)
        obs, at = values[take], ts[take]
        valid = column[None, :] < counts[:, None]
        settings = self.profiles[profile].settings
        s = self.state
        count0, last_ts0, last_value0 = s.count[points].copy(), s.last_ts[points].copy(), s.last_value[points].copy()
        scores: dict[str, Scores] = {}
        with np.errstate(invalid="ignore", divide="ignore"):
            resolution = self._resolution(points, counts, obs, count0, last_value0)
            flat = self._flatline(settings, points, counts, obs, at, count0, last_value0)
            if settings.flatline.enabled:
                scores["flatline"] = flat
            # Readings each statistical detector has seen since it (re)started warming up.
            warm_from = self._warm_from(settings, points, counts, obs, flat, count0)
            seen = count0[:, None] + column[None, :] - warm_from
            # The stuck readings before a restart in this round are the flat line's; no one else judges them.
            seen = np.where(warm_from < self.state.warm_from[points][:, None], -1, seen)
            if settings.limits.enabled:
                scores["limits"] = self._limits(settings, points, obs)
            if settings.robust_z.enabled:
                scores["robust_z"] = self._robust_z(profile, points, counts, obs, count0, seen, resolution)
            if settings.rate.enabled and settings.rate.max is not None:
                scores["rate"] = self._rate(settings, obs, at, count0, last_ts0, last_value0)
            if settings.zscore.enabled:
                scores["zscore"] = self._zscore(settings, points, counts, obs, count0, seen, resolution)
            if settings.drift.enabled:
                scores["drift"] = self._drift(settings, points, counts, obs, at, count0, seen, last_ts0, last_value0)
            gaps = self._learn_interval(points, counts, at, count0, last_ts0)
        s.count[points] = count0 + counts
        s.last_ts[points] = _last(at, counts)
        s.last_value[points] = _last(obs, counts)
        self._end_silence(points, at[:, 0])
        if settings.silence.enabled and self.silence_from_gaps:
            self._silence_gaps(settings, points, at, gaps)
        for family, members in FAMILIES.items():
            judged = [(name, settings.detector(name), scores[name]) for name in members if name in scores]
            if judged:
                self._follow(family, judged, points, counts, obs, at, valid)

    def _follow(
        self,
        family: str,
        judged: list[tuple[str, Detector, Scores]],
        points: np.ndarray,
        counts: np.ndarray,
        obs: np.ndarray,
        at: np.ndarray,
        valid: np.ndarray,
    ) -> None:
        """The hysteresis, reading by reading, for the points that have a hot reading or an open anomaly."""
        engaged = self.engaged[family]
        needs = engaged[points].copy()
        for _, _, v in judged:
            needs |= (v.hot & valid).any(axis=1)
        tracker = self.tracker
        for r in np.flatnonzero(needs):
            key: Key = (self.points[points[r]].uid, family)
            for j in range(int(counts[r])):
                episode = tracker.open.get(key)
                verdicts = []
                for name, settings, v in judged:
                    owner = episode is not None and episode.detector == name
                    if owner and episode.baseline is not None:  # type: ignore[union-attr]
                        verdicts.append(self._against_frozen(episode, name, settings, v, r, j))  # type: ignore[arg-type]
                    elif v.hot[r, j] or owner:
                        verdicts.append(_verdict(name, settings, v, r, j))
                tracker.step(key, int(at[r, j]), float(obs[r, j]), verdicts)
            engaged[points[r]] = tracker.engaged(key)

    @staticmethod
    def _against_frozen(episode: Episode, name: str, settings: Detector, v: Scores, r: int, j: int) -> Verdict:
        """The opener of an anomaly judges against the level before it, which its moving baseline forgets."""
        center, scale = episode.baseline  # type: ignore[misc]
        quantity = float(v.quantity[r, j])
        z: RobustZ | ZScore | Drift = settings  # type: ignore[assignment]
        score = abs(quantity - center) / scale if scale > 0 else 0.0
        # Back within `clear` of the level before, or a jump back towards it (what the moving baseline
        # sees as hot the other way): a slow signal moves on meanwhile (a room warms through the day),
        # so the level before a long excursion is not always where it comes back to.
        jumped_back = bool(v.hot[r, j]) and float(v.direction[r, j]) * episode.direction < 0  # type: ignore[index]
        cool = score < z.clear or jumped_back
        hot = not cool and score >= z.threshold
        return Verdict(
            name,
            settings,
            hot=hot,
            critical=hot and score >= z.critical,
            cool=cool,
            score=score,
            quantity=quantity,
            settled=bool(v.cool[r, j]),
            direction=episode.direction if hot else 0.0,
        )

    def _warm_from(
        self,
        settings: PointSettings,
        points: np.ndarray,
        counts: np.ndarray,
        obs: np.ndarray,
        flat: Scores,
        count0: np.ndarray,
    ) -> np.ndarray:
        """Before each reading, the count from which the statistical detectors warm up: after a stuck
        run ends, their windows and moving averages hold the stuck value, so they start again."""
        s = self.state
        warm_from = s.warm_from[points]
        if settings.flatline.enabled:
            was_stuck = _before(s.flat_hot[points], flat.hot)
            index = count0[:, None] + np.arange(flat.hot.shape[1])[None, :]
            restart = np.maximum.accumulate(np.where(was_stuck & flat.cool, index, -1), axis=1)
            after = np.maximum(warm_from[:, None], restart)
            s.flat_hot[points] = _last(flat.hot, counts)
            s.warm_from[points] = _last(after, counts)
            restarted = np.flatnonzero(s.warm_from[points] > warm_from)
            if restarted.size:
                # Moving statistics start again from the first reading after the stuck run.
                again = points[restarted]
                column = s.warm_from[again] - count0[restarted]
                s.z_mean[again] = obs[restarted, column]
                s.z_var[again] = s.d_mean[again] = s.d_var[again] = 0.0
                # The trend, too: no moments, and the typical change learnt again (it shrank to nothing).
                s.d_t[again] = s.d_x[again] = s.d_tt[again] = s.d_tx[again] = 0.0
                s.d_origin_ts[again] = s.last_ts[again]
                s.d_origin_x[again] = s.last_value[again] - s.d_offset[again]
                s.d_step[again], s.d_steps[again], s.d_step_ref[again] = 0.0, 0, np.nan
            return after
        return np.broadcast_to(warm_from[:, None], flat.hot.shape)

    # -- the detectors ------------------------------------------------------------------------

    def _limits(self, settings: PointSettings, points: np.ndarray, obs: np.ndarray) -> Scores:
        s = self.state
        lo, hi = s.lo[points][:, None], s.hi[points][:, None]
        band = settings.limits.deadband
        above, below = obs > hi, obs < lo
        return Scores(
            hot=above | below,
            critical=(obs > s.critical_hi[points][:, None]) | (obs < s.critical_lo[points][:, None]),
            cool=~((obs > hi - band) | (obs < lo + band)),
            score=np.where(above, obs - hi, np.where(below, lo - obs, 0.0)),
            quantity=obs,
            direction=above.astype(float) - below.astype(float),
        )

    def _resolution(
        self, points: np.ndarray, counts: np.ndarray, obs: np.ndarray, count0: np.ndarray, last_value0: np.ndarray
    ) -> np.ndarray:
        """The smallest step the point's readings have taken so far, before each reading: a sensor that
        reports in steps of 0.1 has no spread below that, so one step is never many deviations."""
        has_previous = count0[:, None] + np.arange(obs.shape[1])[None, :] > 0
        step = np.where(has_previous, np.abs(obs - _before(last_value0, obs)), np.inf)
        step = np.where(step > 0, step, np.inf)
        known = self.state.resolution[points]
        after = np.minimum.accumulate(np.minimum(step, known[:, None]), axis=1)
        self.state.resolution[points] = _last(after, counts)
        before = _before(known, after)
        return np.where(np.isfinite(before), before, 0.0)

    def _robust_z(
        self,
        profile: int,
        points: np.ndarray,
        counts: np.ndarray,
        obs: np.ndarray,
        count0: np.ndarray,
        seen: np.ndarray,
        resolution: np.ndarray,
    ) -> Scores:
        """Median and spread of the `window` readings before each block of MEDIAN_BLOCK readings (blocks
        counted in the point's own readings): a median costs a sort of the window, so it is taken once
        a block; a reading is judged against the window just before its block began."""
        p = self.profiles[profile]
        settings = p.settings.robust_z
        window = settings.window
        s = self.state
        rows = s.row[points]
        history = np.concatenate([p.ring[rows], obs], axis=1)
        n, width = obs.shape
        column = np.arange(width)[None, :]
        into_block = (count0[:, None] + column) % MEDIAN_BLOCK
        first_of_block = column - into_block  # the block's first reading; negative: it began in an earlier batch
        starts_r, starts_c = np.nonzero((into_block == 0) & (column < counts[:, None]))
        center = np.broadcast_to(s.rz_center[points][:, None], (n, width)).copy()
        spread = np.broadcast_to(s.rz_scale[points][:, None], (n, width)).copy()
        if starts_r.size:
            windows = sliding_window_view(history, window, axis=1)  # windows[r, c]: the `window` values before c
            medians, spreads = np.empty(starts_r.size), np.empty(starts_r.size)
            step = max(1, _BLOCK_ELEMENTS // window)
            for first in range(0, starts_r.size, step):
                part = windows[starts_r[first : first + step], starts_c[first : first + step]]
                median = np.median(part, axis=1)
                deviation = np.abs(part - median[:, None])
                medians[first : first + step] = median
                spreads[first : first + step] = np.maximum(
                    MAD_TO_SIGMA * np.median(deviation, axis=1), MEAN_DEV_TO_SIGMA * deviation.mean(axis=1)
                )
            at_start_c, at_start_s = np.full((n, width), np.nan), np.full((n, width), np.nan)
            at_start_c[starts_r, starts_c], at_start_s[starts_r, starts_c] = medians, spreads
            known = first_of_block >= 0
            source = np.maximum(first_of_block, 0)
            center = np.where(known, np.take_along_axis(at_start_c, source, axis=1), center)
            spread = np.where(known, np.take_along_axis(at_start_s, source, axis=1), spread)
        s.rz_center[points], s.rz_scale[points] = _last(center, counts), _last(spread, counts)
        scale = np.maximum(np.maximum(spread, resolution), settings.min_scale)
        # Judged once the window before its block is full (a flat one, no spread, judges nothing:
        # that is the flat-line detector's case).
        ready = (seen - into_block >= window) & (spread > 0)
        p.ring[rows] = np.take_along_axis(history, counts[:, None] + np.arange(window)[None, :], axis=1)
        return self._z_verdict(settings, obs - center, obs, center, scale, ready)

    def _zscore(
        self,
        settings: PointSettings,
        points: np.ndarray,
        counts: np.ndarray,
        obs: np.ndarray,
        count0: np.ndarray,
        seen: np.ndarray,
        resolution: np.ndarray,
    ) -> Scores:
        zscore = settings.zscore
        s = self.state
        alpha = 2.0 / (zscore.window + 1)
        fresh = count0 == 0
        mean0 = np.where(fresh, obs[:, 0], s.z_mean[points])
        var0 = np.where(fresh, 0.0, s.z_var[points])
        warm = max(8, zscore.window // 4)
        now = np.where(seen[:, 0] >= warm, np.sqrt(_unbiased(var0, alpha, seen[:, 0])), np.inf)
        reference = _reference(s.z_ref, points, count0, now)
        mean, mean_after, delta, var_after = _moving_moments(mean0, var0, obs, alpha, reference)
        s.z_mean[points], s.z_var[points] = _last(mean_after, counts), _last(var_after, counts)
        scale = np.maximum(np.sqrt(_unbiased(_before(var0, var_after), alpha, seen)), resolution)
        ready = (seen >= warm) & (scale > 0)
        return self._z_verdict(zscore, delta, obs, mean, scale, ready)

    def _drift(
        self,
        settings: PointSettings,
        points: np.ndarray,
        counts: np.ndarray,
        obs: np.ndarray,
        at: np.ndarray,
        count0: np.ndarray,
        seen: np.ndarray,
        last_ts0: np.ndarray,
        last_value0: np.ndarray,
    ) -> Scores:
        """An exponentially weighted least-squares slope of the readings with their jumps taken out,
        judged against the slope's own usual values."""
        drift = settings.drift
        s = self.state
        fresh = count0 == 0
        alpha = 2.0 / (drift.span + 1)
        has_previous = count0[:, None] + np.arange(obs.shape[1])[None, :] > 0
        change = np.where(has_previous, obs - _before(last_value0, obs), 0.0)
        known = s.d_steps[points]
        typical = _reference(
            s.d_step_ref, points, count0, np.where(known >= 8, _unbiased(s.d_step[points], alpha, known), np.inf)
        )
        kept = np.clip(change, -STEP * typical[:, None], STEP * typical[:, None])
        offset0 = s.d_offset[points]
        offset = offset0[:, None] + np.cumsum(change - kept, axis=1)
        s.d_step[points] = _last(ew_scan(s.d_step[points], np.abs(kept), alpha), counts)
        s.d_steps[points] = known + (has_previous & (np.arange(obs.shape[1])[None, :] < counts[:, None])).sum(axis=1)
        s.d_offset[points] = _last(offset, counts)
        adjusted = obs - offset
        last_adjusted = last_value0 - offset0
        # Move each point's moments to an origin at its last reading: small numbers keep their precision.
        origin_ts = np.where(fresh, at[:, 0], last_ts0)
        origin_x = np.where(fresh, adjusted[:, 0], last_adjusted)
        shift_t = np.where(fresh, 0.0, (origin_ts - s.d_origin_ts[points]) / 1000.0)
        shift_x = np.where(fresh, 0.0, origin_x - s.d_origin_x[points])
        m_t, m_x, m_tt, m_tx = (np.where(fresh, 0.0, getattr(s, k)[points]) for k in ("d_t", "d_x", "d_tt", "d_tx"))
        m_tt = m_tt - 2 * shift_t * m_t + shift_t**2
        m_tx = m_tx - shift_x * m_t - shift_t * m_x + shift_t * shift_x
        m_t, m_x = m_t - shift_t, m_x - shift_x
        t = (at - origin_ts[:, None]) / 1000.0
        x = adjusted - origin_x[:, None]
        e_t, e_x = ew_scan(m_t, t, alpha), ew_scan(m_x, x, alpha)
        e_tt, e_tx = ew_scan(m_tt, t * t, alpha), ew_scan(m_tx, t * x, alpha)
        spread_t = e_tt - e_t**2
        slope = np.where(spread_t > 1e-12 * np.maximum(e_tt, 1.0), (e_tx - e_t * e_x) / spread_t, 0.0)
        for key, matrix in (("d_t", e_t), ("d_x", e_x), ("d_tt", e_tt), ("d_tx", e_tx)):
            getattr(s, key)[points] = _last(matrix, counts)
        s.d_origin_ts[points], s.d_origin_x[points] = origin_ts, origin_x
        # The slope's own statistics take slopes once the slope has a span of readings behind it
        # (before that, the mean is held: its input is the mean as the batch began).
        beta = 2.0 / (drift.window + 1)
        judged = seen >= drift.span
        warm = drift.span + max(8, drift.window // 4)
        mean0, var0 = s.d_mean[points], s.d_var[points]
        now = np.where(seen[:, 0] >= warm, np.sqrt(_unbiased(var0, beta, seen[:, 0] - drift.span)), np.inf)
        reference = _reference(s.d_ref, points, count0, now)
        mean, mean_after, _, var_after = _moving_moments(
            mean0, var0, np.where(judged, slope, mean0[:, None]), beta, reference
        )
        s.d_mean[points], s.d_var[points] = _last(mean_after, counts), _last(var_after, counts)
        scale = np.sqrt(_unbiased(_before(var0, var_after), beta, seen - drift.span))
        ready = (seen >= warm) & (scale > 0)
        return self._z_verdict(drift, slope - mean, slope, mean, scale, ready)

    @staticmethod
    def _z_verdict(
        settings: RobustZ | ZScore | Drift,
        delta: np.ndarray,
        quantity: np.ndarray,
        center: np.ndarray,
        scale: np.ndarray,
        ready: np.ndarray,
    ) -> Scores:
        z = np.where(ready, np.abs(delta) / np.where(ready, scale, 1.0), 0.0)
        return Scores(
            hot=ready & (z >= settings.threshold),
            critical=ready & (z >= settings.critical),
            cool=ready & (z < settings.clear),  # not judged yet (warming up): neither
            score=z,
            quantity=quantity,
            center=center,
            scale=np.where(ready, scale, np.nan),
            direction=np.sign(delta),
        )

    @staticmethod
    def _rate(
        settings: PointSettings,
        obs: np.ndarray,
        at: np.ndarray,
        count0: np.ndarray,
        last_ts0: np.ndarray,
        last_value0: np.ndarray,
    ) -> Scores:
        rate = settings.rate
        assert rate.max is not None
        has_previous = count0[:, None] + np.arange(obs.shape[1])[None, :] > 0
        elapsed = np.maximum(at - _before(last_ts0, at), 1) / rate.per
        signed = np.where(has_previous, (obs - _before(last_value0, obs)) / elapsed, 0.0)
        change = np.abs(signed)
        hot = change > rate.max
        return Scores(
            hot=hot,
            critical=hot & (change > rate.critical) if rate.critical is not None else np.zeros_like(hot),
            cool=~hot,
            score=change / rate.max if rate.max > 0 else change,
            quantity=change,
            direction=np.sign(signed),
        )

    def _flatline(
        self,
        settings: PointSettings,
        points: np.ndarray,
        counts: np.ndarray,
        obs: np.ndarray,
        at: np.ndarray,
        count0: np.ndarray,
        last_value0: np.ndarray,
    ) -> Scores:
        flat = settings.flatline
        s = self.state
        column = np.arange(obs.shape[1])[None, :]
        has_previous = count0[:, None] + column > 0
        same = has_previous & (np.abs(obs - _before(last_value0, obs)) <= flat.tolerance)
        # Readings in the current run: counted from the last reading that changed.
        last_change = np.maximum.accumulate(np.where(same, -1, column), axis=1)
        changed = last_change >= 0
        run = np.where(changed, column - last_change + 1, s.flat_run[points][:, None] + column + 1)
        since = np.where(
            changed, np.take_along_axis(at, np.maximum(last_change, 0), axis=1), s.flat_start[points][:, None]
        )
        s.flat_run[points], s.flat_start[points] = _last(run, counts), _last(since, counts)
        hot = (run >= flat.readings) & (at - since >= flat.duration)
        return Scores(
            hot=hot,
            critical=np.zeros_like(hot),
            cool=~same,
            score=run.astype(float),
            quantity=(at - since).astype(float),
            since=since,
        )

    # -- silence ------------------------------------------------------------------------------

    LEARN_ALPHA = 2.0 / (32 + 1)  # the learned interval follows about the last 32 batches' typical spacing

    def _learn_interval(
        self, points: np.ndarray, counts: np.ndarray, at: np.ndarray, count0: np.ndarray, last_ts0: np.ndarray
    ) -> np.ndarray:
        """The spacing of each reading from the one before (NaN for a point's first); learns the interval."""
        s = self.state
        column = np.arange(at.shape[1])[None, :]
        has_previous = (count0[:, None] + column > 0) & (column < counts[:, None])
        gaps = np.where(has_previous, (at - _before(last_ts0, at)).astype(float), np.nan)
        samples = has_previous.sum(axis=1)
        # The median spacing of each point's readings in this batch (NaN sorts last).
        ordered = np.sort(gaps, axis=1)
        middle = ordered[np.arange(len(points)), np.maximum((samples - 1) // 2, 0)]
        learned = s.iv_learned[points]
        middle = np.where(np.isnan(learned), middle, np.minimum(middle, 4 * learned))
        s.iv_learned[points] = np.where(
            samples == 0, learned, np.where(np.isnan(learned), middle, learned + self.LEARN_ALPHA * (middle - learned))
        )
        s.iv_samples[points] += samples
        return gaps

    def interval_ms(self, idx: np.ndarray | slice) -> np.ndarray:
        """Expected spacing per point: declared, else learned from at least 4 spacings, else NaN."""
        s = self.state
        learned = np.where(s.iv_samples[idx] >= 4, s.iv_learned[idx], np.nan)
        return np.where(np.isnan(s.iv_declared[idx]), learned, s.iv_declared[idx])

    def _end_silence(self, points: np.ndarray, first_ts: np.ndarray) -> None:
        engaged = self.engaged["silence"]
        for r in np.flatnonzero(engaged[points]):
            self.tracker.finish((self.points[points[r]].uid, "silence"), int(first_ts[r]), "readings arrive again")
            engaged[points[r]] = False

    def _silence_gaps(self, settings: PointSettings, points: np.ndarray, at: np.ndarray, gaps: np.ndarray) -> None:
        silence = settings.silence
        interval = self.interval_ms(points)
        for r, j in zip(*np.nonzero(gaps > silence.factor * interval[:, None]), strict=True):
            gap, every, ts = float(gaps[r, j]), float(interval[r]), int(at[r, j])
            last = ts - int(gap)
            key = (self.points[points[r]].uid, "silence")
            verdict = Verdict(
                "silence",
                silence,
                hot=True,
                critical=gap > silence.critical * every,
                score=gap / every,
                quantity=gap,
                since=last + int(every),
            )
            self.tracker.step(key, last + int(silence.factor * every), math.nan, [verdict])
            self.tracker.finish(key, ts, "readings arrive again")

    def check_silence(self, now: int) -> None:
        """The silence timer: points without a reading for `factor` × their interval (never-reporting ones
        counted from the bank's start) open a silence anomaly, escalated past `critical` × the interval."""
        s = self.state
        n = s.size
        if n == 0:
            return
        factor = np.array([p.settings.silence.factor if p.settings.silence.enabled else np.inf for p in self.profiles])
        critical = np.array([p.settings.silence.critical for p in self.profiles])
        profile = s.profile[:n]
        interval = self.interval_ms(slice(0, n))
        reported = s.last_ts[:n] >= 0
        last = np.where(reported, s.last_ts[:n], self.started)
        gap = now - last
        with np.errstate(invalid="ignore"):
            hot = gap > factor[profile] * interval
            is_critical = gap > critical[profile] * interval
        engaged = self.engaged["silence"][:n]
        for idx in np.flatnonzero(hot & (~engaged | is_critical)):
            key = (self.points[idx].uid, "silence")
            episode = self.tracker.open.get(key)
            if episode is not None and episode.severity == "critical":
                continue
            every = float(interval[idx])
            verdict = Verdict(
                "silence",
                self.profiles[profile[idx]].settings.silence,
                hot=True,
                critical=bool(is_critical[idx]),
                score=float(gap[idx]) / every,
                quantity=float(gap[idx]),
                since=int(last[idx] + every) if reported[idx] else self.started,
            )
            self.tracker.step(key, now, math.nan, [verdict])
            engaged[idx] = True

    # -- messages -----------------------------------------------------------------------------

    def _describe(self, subject: str, verdict: Verdict, value: float) -> str:
        idx = self.index[subject]
        unit = f" {self.points[idx].unit}" if self.points[idx].unit else ""
        settings = self.settings_of(idx)
        center = verdict.baseline[0] if verdict.baseline else math.nan
        score, quantity = verdict.score, verdict.quantity
        match verdict.detector:
            case "limits":
                if value > self.state.hi[idx]:
                    return f"{value:.6g}{unit} is above the maximum {self.state.hi[idx]:.6g}{unit}"
                return f"{value:.6g}{unit} is below the minimum {self.state.lo[idx]:.6g}{unit}"
            case "robust_z":
                return (
                    f"{value:.6g}{unit} is {score:.1f} robust deviations from the median {center:.6g}{unit} "
                    f"of the previous {settings.robust_z.window} readings"
                )
            case "zscore":
                return f"{value:.6g}{unit} is {score:.1f} standard deviations from the recent mean {center:.6g}{unit}"
            case "drift":
                return (
                    f"changing at {quantity * 3600:+.3g}{unit}/h, {score:.1f} deviations from its usual "
                    f"{center * 3600:+.3g}{unit}/h"
                )
            case "rate":
                return (
                    f"changed at {quantity:.6g}{unit} per {human_duration(settings.rate.per)}, faster than "
                    f"{settings.rate.max:.6g}{unit}"
                )
            case "flatline":
                return f"stuck at {value:.6g}{unit} for {score:.0f} readings ({human_duration(quantity)})"
            case "silence":
                every = quantity / score if score else math.nan
                return f"no reading for {human_duration(quantity)} (expected every {human_duration(every)})"
        return f"{verdict.detector}: {value:.6g}{unit}"

    def drain(self, now: int | None = None) -> list[Change]:
        return self.tracker.drain(now)


def human_duration(ms: float) -> str:
    """`3 h 20 min`, `45 s`: the two largest units."""
    if not math.isfinite(ms):
        return "?"
    seconds = round(ms / 1000)
    parts = []
    for size, name in ((86_400, "d"), (3_600, "h"), (60, "min"), (1, "s")):
        if seconds >= size:
            amount, seconds = divmod(seconds, size)
            parts.append(f"{amount} {name}")
    return " ".join(parts[:2]) or f"{ms:.0f} ms"


def _moving_moments(
    mean0: np.ndarray, var0: np.ndarray, x: np.ndarray, alpha: float, reference: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """EW mean before each input and after it, the distance from the mean before, and the EW variance
    after each input; updates clipped at CLIP × `reference` (the spread as the round began; inf: none yet)."""
    limit = CLIP * reference[:, None]
    mean_after = ew_scan(mean0, np.clip(x, mean0[:, None] - limit, mean0[:, None] + limit), alpha)
    mean = _before(mean0, mean_after)
    delta = x - mean
    var_after = ew_scan(var0, (1.0 - alpha) * np.minimum(delta**2, limit**2), alpha)
    return mean, mean_after, delta, var_after


def _reference(stored: np.ndarray, points: np.ndarray, count0: np.ndarray, now: np.ndarray) -> np.ndarray:
    """A reference kept from the point's last ROUND-th reading: taken anew when a round begins here
    (or when none was taken yet), else the stored one."""
    take = (count0 % ROUND == 0) | np.isnan(stored[points])
    reference = np.where(take, now, stored[points])
    stored[points] = reference
    return reference


def _verdict(name: str, settings: Detector, v: Scores, r: int, j: int) -> Verdict:
    """One reading's verdict out of a detector's matrices."""
    return Verdict(
        name,
        settings,
        hot=bool(v.hot[r, j]),
        critical=bool(v.critical[r, j]),
        cool=bool(v.cool[r, j]),
        score=float(v.score[r, j]),
        quantity=float(v.quantity[r, j]),
        since=int(v.since[r, j]) if v.since is not None else None,
        baseline=(float(v.center[r, j]), float(v.scale[r, j]))
        if v.center is not None and v.scale is not None
        else None,
        direction=float(v.direction[r, j]) if v.direction is not None else 0.0,
    )


def _unbiased(variance: np.ndarray, alpha: float, seen: np.ndarray) -> np.ndarray:
    """An EW variance started from zero is low by the weight not yet given; correct for it."""
    weight = 1.0 - (1.0 - alpha) ** np.maximum(seen, 1)
    return variance / weight


def _nan(value: float | None) -> float:
    return math.nan if value is None else float(value)


def episodes_of(changes: Iterable[Change]) -> list[Episode]:
    """The anomalies a list of changes opened, each as it stands now (for backtests)."""
    seen: dict[str, Episode] = {}
    for change in changes:
        seen[change.episode.uid] = change.episode
    return list(seen.values())
