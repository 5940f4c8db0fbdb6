"""Reports: pure functions from stored records to tables, figure data, and one self-contained HTML file.

content.py  what a report holds (rows, cells, crossovers, ladder gaps, predictions): data only
model.py    records -> ReportModel: every number, order, tie and fit decided; no drawing, no I/O
verdicts.py the numbers in words: every sentence a report shows
figures.py  chart data -> inline SVG (matplotlib, Agg)
tables.py   ReportModel -> Markdown tables (the Markdown document's and the docs' generated blocks')
sections.py the report's sections, each declared once (HTML template, Markdown, docs kinds): add one there
html.py     the head + every section's template -> one HTML string (jinja2, autoescaped)
markdown.py the head + every section's Markdown -> one Markdown document
docs.py     the generated blocks of README.md and docs/, each from a committed results file
noise.py    when a record is noisy, and what its figure can still say
compare.py  two runs -> per-case ratios with a noise-aware verdict
"""
