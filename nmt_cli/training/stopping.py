"""What ends a training run: a budget spent (updates, epochs, minutes), or a signal, which the
loop turns into a flag it checks after each update, so that the state is saved first.
"""

from __future__ import annotations

import contextlib
import signal
from typing import Any

from nmt_cli.config import TrainConfig
from nmt_cli.training.startup import Progress


class StopFlag:
    """Turns SIGINT/SIGTERM into a flag the loop checks after each step, so state is saved."""

    def __init__(self) -> None:
        self.raised: str | None = None
        self._old: dict[int, Any] = {}

    def __enter__(self) -> StopFlag:
        for sig in (signal.SIGINT, signal.SIGTERM):
            # Outside the main thread signals cannot be caught: leave them alone.
            with contextlib.suppress(ValueError):
                self._old[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum: int, frame: Any) -> None:
        self.raised = signal.Signals(signum).name

    def __exit__(self, *exc: Any) -> None:
        for sig, handler in self._old.items():
            signal.signal(sig, handler)


def budget_spent(cfg: TrainConfig, progress: Progress, elapsed: float) -> str | None:
    """Which budget, if any, ends the run now."""
    if cfg.max_steps and progress.step >= cfg.max_steps:
        return "max-steps"
    if cfg.max_minutes and elapsed >= 60 * cfg.max_minutes:
        return "max-minutes"
    if progress.epoch >= cfg.max_epochs:
        return "max-epochs"
    return None
