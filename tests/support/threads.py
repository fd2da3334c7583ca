"""(No tests here.) Running work that must end within a bounded time."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

#: seconds: a generous upper bound for "ends within a bounded time" (not a timing)
BOUND = 20.0


def bounded(work: Callable[[], T], what: str = "the work") -> T:
    """Run ``work`` in a thread; it must end within :data:`BOUND` seconds (its exception is
    re-raised)."""
    result: list[T] = []
    error: list[BaseException] = []

    def run() -> None:
        try:
            result.append(work())
        except BaseException as exc:
            error.append(exc)

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(BOUND)
    assert not worker.is_alive(), f"{what} did not end within {BOUND} s"
    if error:
        raise error[0]
    return result[0]
