"""Benchmarks: each a script that prints its figures beside baselines measured in the same run.

Run them with `scripts/bench [http|stream|access|direct]`; docs/performance.md explains each
method and keeps the figures. Nothing here is imported by the tests or the service.
"""
