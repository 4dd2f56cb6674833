"""Serving what was trained: memory, latency, throughput and cost per million tokens.

spec (what is served and at what load), engines (engine data), memory (per device),
time (prefill, decode step, load), estimate (one configuration), search (ranked
options under SLOs), runs/fit (the published serving rows, cross-validated).
"""
