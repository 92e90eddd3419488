"""Admission control: which lane a submission is in, and whether its queue has room.

`lanes` and `decide` are pure; `gate` keeps the cached depth per lane that
`refresher` reads from Postgres in the background.
"""
