"""Measured speed and scale; `make bench` runs `python -m benchmarks.run --write BENCHMARKS.md`."""
