"""DER curtailment: limit inverter generation through WMaxLimPct with a revert timer."""
