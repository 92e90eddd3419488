"""Postgres access: every query lives in sql/queries.sql; driver errors stop here."""
