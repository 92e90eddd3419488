"""Modbus request counts: what a session counts, how shards' counts add up across restarts."""

from __future__ import annotations

from adapters import LATENCY_BUCKETS_S, FaultCode, RequestCounts, RequestStats
from gridjobs.telemetry.shard_totals import ShardTotals


def test_a_session_counts_answers_by_latency_and_faults_by_code():
    stats = RequestStats()
    stats.answered(0.004)
    stats.answered(0.3, fault=FaultCode.MODBUS_EXCEPTION)   # an answer, and an error
    stats.answered(99.0)                                     # past the last bound
    stats.failed(FaultCode.DEVICE_TIMEOUT)
    stats.failed(FaultCode.CONNECTION_FAILED)
    c = stats.counts()
    assert (c.requests, c.answered, c.timeouts) == (5, 3, 1)
    assert c.errors == {"modbus_exception": 1, "device_timeout": 1, "connection_failed": 1}
    assert len(c.buckets) == len(LATENCY_BUCKETS_S) + 1 and sum(c.buckets) == 3
    assert c.buckets[LATENCY_BUCKETS_S.index(0.005)] == 1 and c.buckets[-1] == 1
    assert c.seconds_sum == 0.004 + 0.3 + 99.0


def _counts(requests: int, timeouts: int = 0) -> RequestCounts:
    errors = {"device_timeout": timeouts} if timeouts else {}
    return RequestCounts(requests=requests, timeouts=timeouts, errors=errors)


def test_counts_add_up():
    total = _counts(3, 1) + _counts(4)
    assert (total.requests, total.timeouts, total.errors) == (7, 1, {"device_timeout": 1})


def test_totals_sum_shards_per_gateway():
    totals = ShardTotals()
    assert not totals.update(0, "a", {"gw1": _counts(3)})
    assert not totals.update(1, "b", {"gw1": _counts(2), "gw2": _counts(1)})
    assert {g: c.requests for g, c in totals.totals().items()} == {"gw1": 5, "gw2": 1}


def test_a_restarted_shard_keeps_what_its_last_life_counted():
    totals = ShardTotals()
    totals.update(0, "first", {"gw1": _counts(10, 2)})
    assert not totals.update(0, "first", {"gw1": _counts(12, 2)})   # same life: replaced
    assert totals.update(0, "second", {"gw1": _counts(1)})           # a restart: counts start over
    gw1 = totals.totals()["gw1"]
    assert (gw1.requests, gw1.timeouts) == (13, 2)                   # never goes down
    assert totals.update(0, "third", {})
    assert totals.totals()["gw1"].requests == 13
