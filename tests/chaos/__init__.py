"""Seeded chaos campaigns: `gridjobs serve` killed with SIGKILL mid-operation, Postgres
restarted mid-hold, devices whose answers are lost; the invariants are read from the
simulated devices, not from gridjobs' own report. `scripts/chaos` runs a long campaign;
`test_campaign.py` and `test_faults.py` run short ones in the suite.
"""
