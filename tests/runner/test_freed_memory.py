"""The runner's main process hands freed buffers back to the system (glibc's thresholds)."""

import os
import platform
import subprocess
import sys
import textwrap

import pytest

# In fresh interpreters: the setting is process-wide and would outlive the test here. The
# control imports nothing but NumPy: glibc's default, dynamic thresholds, untouched.
PROBE = textwrap.dedent("""
    import sys
    import numpy as np

    def resident_mib():
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * 4096 / 2**20

    if sys.argv[1] == "set":
        from pipeline.runner import return_freed_memory
        assert return_freed_memory()
    np.ones(1 << 17)  # a freed 1 MiB block: by default glibc now raises its mmap threshold above it
    before = resident_mib()
    survivors, buffers = [], []
    for _ in range(200):  # 1 MiB buffers, each followed by a small object that outlives it
        buffers.append(np.ones(1 << 17))
        survivors.append(bytearray(1000))
    del buffers
    print(resident_mib() - before)
""")


def _resident_growth(mode: str) -> float:
    # Without glibc's MALLOC_* variables: a Dask nanny started earlier in this process sets
    # MALLOC_TRIM_THRESHOLD_ here, which would fix the thresholds in the control arm too.
    env = {name: value for name, value in os.environ.items() if not name.startswith("MALLOC_")}
    done = subprocess.run([sys.executable, "-c", PROBE, mode], capture_output=True, text=True, check=True, env=env)
    return float(done.stdout)


@pytest.mark.skipif(platform.system() != "Linux" or platform.libc_ver()[0] != "glibc", reason="glibc only")
def test_freed_large_buffers_leave_the_process_once_set():
    assert _resident_growth("default") > 100  # the retention the runner avoids
    assert _resident_growth("set") < 20
