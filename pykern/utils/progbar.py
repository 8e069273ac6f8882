"""Keras' text progress bar: `12/40 ━━━━━━━━━━━━━━━━━━━━ 1s 35ms/step - loss: 0.69`.

On a terminal the line is redrawn in place (at most every `interval` s); on a
pipe or file only the final line of each target is printed, as Keras does.
"""
import sys
import time

__all__ = ["Progbar"]


def _format_time(seconds):
    if seconds >= 3600:
        return f"{int(seconds // 3600)}:{int(seconds % 3600 // 60):02d}:{int(seconds % 60):02d}"
    if seconds >= 60:
        return f"{int(seconds // 60)}:{int(seconds % 60):02d}"
    return f"{int(seconds)}s"


def _per_step(seconds):
    if seconds >= 1:
        return f"{seconds:.0f}s/step"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.0f}ms/step"
    return f"{seconds * 1e6:.0f}us/step"


def _values(values):
    parts = []
    for k, v in values:
        try:
            parts.append(f"{k}: {float(v):.4f}")
        except (TypeError, ValueError):
            parts.append(f"{k}: {v}")
    return "".join(f" - {p}" for p in parts)


class Progbar:
    """target: steps (None when unknown); verbose 1 = bar, 2 = one line at the end."""

    def __init__(self, target, width=20, verbose=1, interval=0.05, stream=None):
        self.target = target
        self.width = width
        self.verbose = verbose
        self.interval = interval
        self.stream = stream or sys.stdout
        self.dynamic = hasattr(self.stream, "isatty") and self.stream.isatty()
        self._start = time.perf_counter()
        self._last = 0.0
        self._prev_len = 0

    def update(self, current, values=None, finalize=None):
        now = time.perf_counter()
        if finalize is None:
            finalize = self.target is not None and current >= self.target
        if not finalize and (not self.dynamic or self.verbose != 1 or
                             now - self._last < self.interval):
            return
        self._last = now
        elapsed = now - self._start
        per = elapsed / max(current, 1)
        if self.verbose == 2:
            if finalize:
                self.stream.write(f"{current}/{self.target or current} - "
                                  f"{_format_time(elapsed)} - {_per_step(per)}"
                                  f"{_values(values or [])}\n")
                self.stream.flush()
            return
        if self.target:
            filled = int(self.width * min(current, self.target) / self.target)
            bar = "\u2501" * filled + " " * (self.width - filled) if filled < self.width \
                else "\u2501" * self.width
            head = f"{current}/{self.target} {bar} "
            eta = per * (self.target - current)
            timing = _format_time(elapsed if finalize else eta)
        else:
            head, timing = f"{current} ", _format_time(elapsed)
        line = f"{head}{timing} {_per_step(per)}{_values(values or [])}"
        if self.dynamic:
            pad = max(self._prev_len - len(line), 0)
            self.stream.write("\r" + line + " " * pad + ("\n" if finalize else ""))
            self._prev_len = len(line)
        else:
            self.stream.write(line + "\n")
        self.stream.flush()
