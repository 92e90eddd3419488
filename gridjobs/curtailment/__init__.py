"""One dispatch engine for every curtailment-like operation.

Load shedding and DER curtailment are two strategies (planners) over the same
engine: survey → plan → curtail and verify (replacing failures) → hold with
dead-man refresh → staged restore.
"""
