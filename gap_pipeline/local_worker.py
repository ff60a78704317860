"""The worker process of a multi-process local build (`gap build --workers N`): Beam's own SDK worker, whose
stderr leaves out the worker's printed copy of a failing bundle's traceback when the failure is a damaged
document file, which the build reports in one line instead (`build._damaged_input`). Every other traceback
and every log line pass through unchanged."""
from __future__ import annotations

import sys
from typing import TextIO

DAMAGED_FILE_ERROR = "DocumentFileError: "


class WithoutDamagedFileTracebacks:
    """A text stream that drops a whole traceback naming a damaged document file. The SDK worker prints each
    failed bundle's traceback as one string, then print()'s newline, so one write() holds one traceback."""

    def __init__(self, stream: TextIO):
        self._stream = stream
        self._after_dropped = False

    def write(self, text: str) -> int:
        after_dropped, self._after_dropped = self._after_dropped, False
        if text.startswith("Traceback (most recent call last):") and DAMAGED_FILE_ERROR in text:
            self._after_dropped = True
            return len(text)
        if after_dropped and text == "\n":
            return len(text)
        return self._stream.write(text)

    def __getattr__(self, name: str):
        return getattr(self._stream, name)


def main() -> None:
    from apache_beam.runners.worker import sdk_worker_main

    sys.stderr = WithoutDamagedFileTracebacks(sys.stderr)
    sdk_worker_main.main(sys.argv)


if __name__ == "__main__":
    main()
