"""`make bench-gpu`: tokens/s per GPU and MFU of the bundled trainer (the `1b` preset by default).

The driver lives in testkit/gpu_bench.py (its docstring explains what is measured and how), shared with
tests/testkit/test_gpu_bench.py, which runs it on the CPU with --smoke-cpu; this script only starts it.
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from testkit.gpu_bench import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
