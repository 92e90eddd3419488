"""Firmware rollout: canary, then growing waves, with abort thresholds and A/B banks."""
