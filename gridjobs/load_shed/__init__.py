"""Load shedding: curtail loads to meet a kW target, hold, restore in stages."""
