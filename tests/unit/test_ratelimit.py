"""The leaky bucket: a burst, then the sustained rate; pure, on a fake clock."""

from __future__ import annotations

from gridjobs.access.ratelimit import Budget, LeakyBuckets


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_then_the_rate():
    clock, budget = Clock(), Budget(rate_per_s=2.0, burst=4)
    buckets = LeakyBuckets(clock=clock)
    verdicts = [buckets.take("a", budget) for _ in range(5)]
    assert [v.allowed for v in verdicts] == [True, True, True, True, False]
    assert [v.remaining for v in verdicts[:4]] == [3, 2, 1, 0]
    assert 0.49 < verdicts[4].retry_after_s <= 0.5   # one request leaks every 0.5 s
    clock.now += 0.5
    assert buckets.take("a", budget).allowed and not buckets.take("a", budget).allowed


def test_principals_have_their_own_buckets():
    buckets, budget = LeakyBuckets(clock=Clock()), Budget(rate_per_s=1.0, burst=1)
    assert buckets.take("a", budget).allowed and not buckets.take("a", budget).allowed
    assert buckets.take("b", budget).allowed


def test_an_idle_bucket_refills():
    clock, budget = Clock(), Budget(rate_per_s=1.0, burst=2)
    buckets = LeakyBuckets(clock=clock)
    for _ in range(2):
        buckets.take("a", budget)
    clock.now += 10
    assert buckets.take("a", budget).remaining == 1
