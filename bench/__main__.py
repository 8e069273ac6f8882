"""Runs one benchmark: `python -m bench <name> [options]`.

Each benchmark is a module bench/<name>.py with a `main(argv)` function and a
docstring whose first line describes it.
"""
import importlib
import pkgutil
import sys

import bench


def _benchmarks():
    return sorted(m.name for m in pkgutil.iter_modules(bench.__path__)
                  if not m.name.startswith("_") and m.name != "common")


def main(argv):
    names = _benchmarks()
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__)
        for name in names:
            doc = (importlib.import_module(f"bench.{name}").__doc__ or "").strip().splitlines()
            print(f"  {name:12s} {doc[0] if doc else ''}")
        return 0
    if argv[0] not in names:
        print(f"unknown benchmark {argv[0]!r}; choose from {', '.join(names)}", file=sys.stderr)
        return 2
    return importlib.import_module(f"bench.{argv[0]}").main(argv[1:]) or 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
