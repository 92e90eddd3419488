"""Webhook endpoints (Standard Webhooks 1.0): the URL rule, secrets sealed under the
master key, signing, the retry decision and the HTTP sender."""
