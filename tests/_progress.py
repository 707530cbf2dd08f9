"""Helpers of the progress tests: a clock and a terminal that time nothing."""

import io


class FakeClock:
    """Every reading is one second after the one before: progress without timing anything."""

    def __init__(self):
        self.t = 0.0

    def __call__(self):
        self.t += 1.0
        return self.t


class Terminal(io.StringIO):
    """A text stream that says it is a terminal (progress redraws one line there)."""

    def isatty(self):
        return True
