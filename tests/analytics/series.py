"""Generated sensor series for the detector tests: a room's day at 1 Hz with faults planted where a test says."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

DAY_S = 86_400
START_MS = 1_767_225_600_000  # 2026-01-01T00:00Z


@dataclass(frozen=True)
class Series:
    ts: np.ndarray  # epoch ms
    values: np.ndarray


def room_day(seed: int, *, correlation: float = 0.9, resolution: float = 0.01, seconds: int = DAY_S) -> Series:
    """Air temperature of a room at 1 Hz: 21 °C ± 3 °C through the day, slow fluctuations (AR(1) with
    the given lag-1 correlation, 0.05 °C) plus electronic noise (0.02 °C), reported in steps of
    `resolution`, as a real sensor would."""
    rng = np.random.default_rng(seed)
    t = np.arange(seconds, dtype=float)
    shocks = rng.normal(0.0, 0.05 * np.sqrt(1 - correlation**2), seconds)
    slow = np.empty(seconds)
    slow[0] = 0.0
    for i in range(1, seconds):
        slow[i] = correlation * slow[i - 1] + shocks[i]
    values = 21 + 3 * np.sin(2 * np.pi * (t / DAY_S - 0.3)) + slow + rng.normal(0.0, 0.02, seconds)
    return Series((START_MS + t * 1000).astype(np.int64), np.round(values / resolution) * resolution)


def at(second: int) -> int:
    """Epoch ms of a second of the generated day."""
    return START_MS + second * 1000
