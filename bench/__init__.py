"""Benchmark harness: `python -m bench run [--smoke]` measures the real local stack (issue 6)."""
