"""A refused admission as the caller sees it: 503 problem+json with Retry-After."""

from __future__ import annotations

from gridjobs.admission.decide import Decision, Reason
from gridjobs.errors import Overloaded


def refusal(decision: Decision) -> Overloaded:
    lane, wait = decision.lane.value, decision.retry_after_s or 1
    if decision.refused is Reason.RESERVE:
        detail = (f"the server is at its in-flight bound; the slots it keeps in reserve are for "
                  f"the grid lane (emergency sheds and curtailments), and this submission is in "
                  f"the {lane} lane; retry after {wait} s")
    else:
        detail = (f"the {lane} lane is full: {decision.depth} queued operations against a bound "
                  f"of {decision.bound}; retry after {wait} s")
    return Overloaded(detail, retry_after_s=wait,
                      extra={"lane": lane, "reason": str(decision.refused),
                             "depth": decision.depth, "bound": decision.bound})
