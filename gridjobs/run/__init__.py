"""What a running operation works with: its context and the narrow ports it
reaches the world through (lease and outcomes, devices, shards, keys, firmware).

The kinds' runners depend on this package, never on the pool or on Ray; the
dispatcher fills the ports from Postgres and Ray, `gridjobs.testing` from memory.
"""
