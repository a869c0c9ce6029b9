"""Per-API-user request rate limits (the `limits` library; Redis shares them across processes)."""

from __future__ import annotations

from limits import RateLimitItemPerSecond
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter


class RateLimiter:
    def __init__(self, redis_url: str | None = None) -> None:
        storage = storage_from_string(redis_url if redis_url else "memory://")
        # A moving window: no burst of twice the limit across a window boundary.
        self._limiter = MovingWindowRateLimiter(storage)
        self._items: dict[int, RateLimitItemPerSecond] = {}

    def allow(self, key: str, per_second: int) -> bool:
        item = self._items.get(per_second)
        if item is None:
            item = self._items[per_second] = RateLimitItemPerSecond(per_second, 1)
        return self._limiter.hit(item, key)
