"""Run every benchmark script in this folder and print their markdown sections (`make bench`).

Each bench_*.py prints one section; copy the ones you re-measured into benchmarks/RESULTS.md with the
date, so the results file always says when and where a figure was measured.
"""

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

if __name__ == "__main__":
    failed = []
    for script in sorted(HERE.glob("bench_*.py")):
        print(f"\n<!-- {script.name} -->", flush=True)
        if subprocess.run([sys.executable, str(script)], cwd=HERE.parent).returncode != 0:
            failed.append(script.name)
    if failed:
        sys.exit(f"benchmarks failed: {', '.join(failed)}")
