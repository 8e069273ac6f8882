"""Benchmarks: `python -m bench <name> [options]`; see `python -m bench --help`."""
