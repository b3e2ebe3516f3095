"""Readable money, counts and shares: the one formatter every output uses (pages, Sankeys, workbooks).

`£3.9bn`, `£1.2m`, `£850k`, `£950` for labels and headlines; `£1,234,567` where a reader needs the
exact figure (tables, hover text).
"""

from __future__ import annotations

import math

from spendmap.text import is_missing

MISSING = "–"  # en dash: shown for a value that is not known (not for zero)

_UNITS = ((1e9, "bn"), (1e6, "m"), (1e3, "k"))


def _scaled(amount: float, divisor: float) -> str:
    """Amount / divisor with one decimal below 100 (`1.2`, `12.5`) and none above (`125`); no `.0`."""
    scaled = amount / divisor
    text = f"{scaled:.1f}" if scaled < 99.95 else f"{scaled:.0f}"
    return text[:-2] if text.endswith(".0") else text


def _known(value: object) -> float | None:
    """The value as a float, or None when it is not known (missing, NaN) or not finite (±inf)."""
    if is_missing(value):
        return None
    number = float(value)  # type: ignore[arg-type]
    return number if math.isfinite(number) else None


def format_gbp(value: object) -> str:
    """Readable pounds: £3.9bn, £1.2m, £850k, £950, -£1.2m; `–` when unknown."""
    amount = _known(value)
    if amount is None:
        return MISSING
    sign = "-" if amount < 0 else ""
    amount = abs(amount)
    for i, (divisor, suffix) in enumerate(_UNITS):
        # Round first so 999,600 reads £1m rather than £1000k.
        if amount >= divisor * 0.9995 or (i == len(_UNITS) - 1 and amount >= 999.5):
            text = _scaled(amount, divisor)
            if text in ("1000", "1000.0") and i > 0:
                bigger, big_suffix = _UNITS[i - 1]
                return f"{sign}£{_scaled(amount, bigger)}{big_suffix}"
            return f"{sign}£{text}{suffix}"
    return f"{sign}£{amount:,.0f}"


def format_gbp_full(value: object, pence: bool = False) -> str:
    """Exact pounds with thousands separators: £1,234,567 (or £1,234,567.89 with pence)."""
    amount = _known(value)
    if amount is None:
        return MISSING
    sign = "-" if amount < 0 else ""
    return f"{sign}£{abs(amount):,.2f}" if pence else f"{sign}£{abs(amount):,.0f}"


def format_count(value: object) -> str:
    """A whole number with thousands separators; `–` when unknown."""
    number = _known(value)
    return MISSING if number is None else f"{int(round(number)):,}"


def format_share(value: object, decimals: int = 0) -> str:
    """A 0–1 share as a percentage (`0.7` -> `70%`); `–` when unknown (e.g. no awards to share)."""
    share = _known(value)
    if share is None:
        return MISSING
    # Half up (62.5% -> 63%), as readers round; Python's format would round half to even.
    scale = 10**decimals
    percent = math.floor(share * 100 * scale + 0.5 + 1e-9) / scale
    return f"{percent:.{decimals}f}%"


def format_per_head(value: object) -> str:
    """Pounds per person: £1,234 per head for large values, £12.34 below £100."""
    amount = _known(value)
    if amount is None:
        return MISSING
    return format_gbp_full(amount, pence=abs(amount) < 100)
