"""Claiming, leasing and running operations."""
