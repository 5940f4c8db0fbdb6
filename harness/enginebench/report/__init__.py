"""Reports: pure functions from stored records to tables, figure data, and one self-contained HTML file.

model.py   records -> ReportModel (matrix, verdicts, ties, failures, chart data): no drawing, no I/O
figures.py chart data -> inline SVG (matplotlib, Agg)
html.py    ReportModel + figures -> one HTML string (jinja2, autoescaped)
compare.py two runs -> per-case ratios with a noise-aware verdict
"""
