"""Rate limits (in memory, and shared through Redis) and the per-process credential cache."""

from __future__ import annotations

import uuid

import pytest
import redis

from kirje.api.rate_limit import RateLimiter
from kirje.services.accounts import CredentialCache

REDIS_URL = "redis://127.0.0.1:6379/0"


def _redis_reachable() -> bool:
    try:
        return bool(redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False


def test_memory_limit_refuses_the_fifth_request_in_a_second() -> None:
    limiter = RateLimiter()
    key = f"user:{uuid.uuid4()}"
    assert [limiter.allow(key, 4) for _ in range(5)] == [True, True, True, True, False]
    assert limiter.allow(f"other:{uuid.uuid4()}", 4) is True


@pytest.mark.skipif(not _redis_reachable(), reason="Redis unreachable")
def test_processes_sharing_redis_share_one_limit() -> None:
    first, second = RateLimiter(REDIS_URL), RateLimiter(REDIS_URL)
    key = f"user:{uuid.uuid4()}"
    answers = [first.allow(key, 4), second.allow(key, 4), first.allow(key, 4), second.allow(key, 4)]
    assert answers == [True] * 4
    assert second.allow(key, 4) is False
    assert first.allow(key, 4) is False


def test_credentials_are_read_once_and_changes_invalidate(system, account) -> None:
    reads = []
    original = system.accounts.load_credential

    def counting(user_id: int):
        reads.append(user_id)
        return original(user_id)

    system.accounts.load_credential = counting
    try:
        cache = CredentialCache(system.accounts, ttl_seconds=60)
        assert cache.get(account.user_id).rate_limit_per_second == 1000
        assert cache.get(account.user_id).rate_limit_per_second == 1000
        assert reads == [account.user_id]
        system.accounts.set_rate_limit(account.user_id, 7)
        assert cache.get(account.user_id).rate_limit_per_second == 7
        assert len(reads) == 2
    finally:
        del system.accounts.load_credential


def test_cached_credentials_expire(system, account) -> None:
    cache = CredentialCache(system.accounts, ttl_seconds=0)
    other_process = type(system.accounts)(system.db, system.accounts.secret_box)
    assert cache.get(account.user_id).is_enabled is True
    other_process.set_enabled(account.user_id, False)
    assert cache.get(account.user_id).is_enabled is False
