"""`advisor report`: one recommendation as a self-contained HTML (or Markdown, JSON) report.

build.py        collects a `ReportData` (pure: recommend + sensitivity + accuracy + sources);
                every name of the modules below stays importable from it
data.py         the records a report shows (`ReportData` and its parts)
sensitivity.py  the top options re-scored with efficiency and prices scaled
answer.py       the option to take, its range, and why it beat the runner-up
evidence.py     cost against time, calibration, accuracy, sources, assumptions
plots.py        matplotlib SVG figures, reproducible byte for byte (imported only by render)
figure.py       the plots' matplotlib settings, axes helpers and SVG serialiser
render.py       Jinja2 templates from reports/templates/ (autoescaped); writes via advisor/files.py

Only `advisor report` imports this package's render, plots and figure modules, so the other
commands never load matplotlib or Jinja2.
"""
