"""Static values of a simulated SunSpec inverter: identity, ratings and scale factors.

Keys are SunSpec point names (``"120.WRtg"``); values are engineering values
(watts, volts) that the register map scales by the listed scale factors.
Points not listed here read as SunSpec "not implemented".
"""

from __future__ import annotations

import math

from .spec import DeviceSpec

MANUFACTURER = "gridjobs"
MODEL = "SimInverter DER"
FIRMWARE = "1.0.0"
NOMINAL_PHASE_V = 230.0
NOMINAL_HZ = 50.0
CABINET_C = 35
PHASES = 3
PV_DER_TYPE = 4  # model 120 DERTyp: PV
REACTIVE_SHARE = 0.44
RATED_PF = 0.8
INT16_MAX = 0x7FFF


def power_sf(max_w: float) -> int:
    """The smallest exponent >= 0 that fits ``max_w`` (and 10 % headroom) in an int16."""
    exponent = 0
    while max_w * 1.1 / 10**exponent > INT16_MAX:
        exponent += 1
    return exponent


def current_sf(max_a: float) -> int:
    return power_sf(max_a * 100) - 2  # centiamps when they fit


def nameplate(spec: DeviceSpec) -> dict[str, int | float | str]:
    rated_w = spec.rated_kw * 1000
    sf, a_sf = power_sf(rated_w), current_sf(rated_w / NOMINAL_PHASE_V)
    reactive = round(rated_w * REACTIVE_SHARE / 10**sf) * 10**sf
    values: dict[str, int | float | str] = {
        "1.Mn": MANUFACTURER, "1.Md": MODEL, "1.Vr": FIRMWARE, "1.SN": f"SIM-{spec.id}"[:32], "1.DA": 1,
        "103.A_SF": a_sf, "103.W_SF": sf, "103.Tmp_SF": 0, "103.WH_SF": 0, "103.V_SF": -1, "103.Hz_SF": -2,
        "103.Evt1": 0, "103.Evt2": 0, "103.TmpCab": CABINET_C,
        "120.DERTyp": PV_DER_TYPE, "120.WRtg_SF": sf, "120.VARtg_SF": sf, "120.VArRtg_SF": sf,
        "120.ARtg_SF": a_sf, "120.PFRtg_SF": -2,
        "120.WRtg": _step(rated_w, sf), "120.VARtg": _step(rated_w, sf),
        "120.ARtg": _step(rated_w / (PHASES * NOMINAL_PHASE_V), a_sf),
        "121.WMax_SF": sf, "121.VRef_SF": -1, "121.VRefOfs_SF": -1, "121.VRef": NOMINAL_PHASE_V, "121.VRefOfs": 0,
        "123.WMaxLimPct_SF": 0, "123.OutPFSet_SF": -3, "123.OutPFSet": 1.0, "123.OutPFSet_Ena": 0,
        "123.VArPct_Ena": 0,
    }
    for quadrant, sign in zip("1234", (1, 1, -1, -1)):
        values[f"120.VArRtgQ{quadrant}"] = sign * reactive
        values[f"120.PFRtgQ{quadrant}"] = sign * RATED_PF
    return values


def _step(value: float, exponent: int) -> float:
    """``value`` rounded to what the register can hold at ``10 ** exponent``."""
    step = 10.0**exponent
    return round(math.floor(value / step) * step, max(0, -exponent))
