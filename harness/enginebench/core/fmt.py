"""Number formatting shared by the terminal summary, the report and the docs: one place for how a
number, a size, a factor and a time read."""

from __future__ import annotations

import math


def format_metric(value: float) -> str:
    """3 significant figures, thousands separated: 12,300 / 45.6 / 0.00123."""
    if value == 0:
        return "0"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.3g}"


def format_seconds(value: float) -> str:
    if value >= 100:
        return f"{value:,.0f} s"
    if value >= 1:
        return f"{value:.2f} s"
    return f"{value * 1e3:.3g} ms"


def size_label(param: str) -> str:
    """How a size parameter is named in sentences and on axes (TPC-H's scale factor as SF)."""
    return param.upper() if param == "sf" else param


def size_text(v: float) -> str:
    """A size as it reads: whole numbers thousands-separated, others to 3 significant figures; from ten
    million on, in millions, billions or trillions to 3 significant figures ("10 million", "1.5 billion")."""
    if not math.isfinite(v):
        return "unbounded"
    if abs(v) >= 1e7:
        v = float(f"{v:.3g}")  # rounded first, so 999.9 million reads "1 billion"
        scale, word = next((s, w) for s, w in ((1e12, "trillion"), (1e9, "billion"), (1e6, "million"))
                           if abs(v) >= s)
        return f"{v / scale:.3g} {word}"
    return f"{v:,.0f}" if abs(v) >= 100 else f"{v:.3g}"


def fmt_size(param: str, v: float) -> str:
    return f"{size_label(param)} {size_text(v)}"


def fmt_factor(f: float) -> str:
    return f"{f:,.0f}x" if f >= 10 else f"{f:.1f}x"


def fmt_seconds(v: float) -> str:
    """Seconds in the unit that reads: s, ms, µs or ns."""
    a = abs(v)
    if a >= 1000:
        return f"{v:,.0f} s"
    if a >= 1 or a == 0:
        return f"{v:.3g} s"
    if a >= 1e-3:
        return f"{v * 1e3:.3g} ms"
    if a >= 1e-6:
        return f"{v * 1e6:.3g} µs"
    return f"{v * 1e9:.3g} ns"
