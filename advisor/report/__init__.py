"""`advisor report`: one recommendation as a self-contained HTML (or Markdown, JSON) report.

build.py   collects a `ReportData` (pure: recommend + sensitivity + accuracy + sources)
plots.py   matplotlib SVG figures, reproducible byte for byte (imported only by render)
render.py  Jinja2 templates from reports/templates/ (autoescaped) and the atomic write

Only `advisor report` imports this package's render and plots modules, so the other
commands never load matplotlib or Jinja2.
"""
