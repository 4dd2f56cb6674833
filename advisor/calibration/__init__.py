"""The parts of `advisor calibrate` (advisor/calibrate.py assembles the profile and
re-exports every public name here):

files.py    read benchmark results and profiles, write a profile atomically
fitting.py  pure fits (medians by size, latency + bandwidth, count + rate) and the
            figures they make, citing the results file
curves.py   matmul, memory, link, optimizer and attention efficiency curves
rates.py    elementwise rates, first-touch, allocator slack and framework overhead
steps.py    the training-step fit: per-operator time and training efficiency, shared
            and one efficiency per precision
"""
