"""Number formatting shared by the terminal summary and the HTML report."""

from __future__ import annotations


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
