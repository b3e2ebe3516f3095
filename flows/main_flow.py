"""Deployment entry point for the main flow.

The flow itself lives in the package (`spendmap.pipeline.spendmap_run`) so `spendmap run` works from
any directory after `pip install`; this file is what `prefect deploy` and `prefect.yaml` point at.

Run it once:          python flows/main_flow.py
Serve on a schedule:  spendmap serve --cron "0 6 * * 1"   (needs `prefect server start` running)
"""

from spendmap.prefect_runner import spendmap_run
from spendmap.run_config import RunParams

__all__ = ["spendmap_run"]

if __name__ == "__main__":
    spendmap_run(RunParams(offline=True, places="pfpp"))
