"""Deployment entry points: the main flow and the scheduled release check.

Both live in the package (`spendmap.pipeline.spendmap_run`, `spendmap.schedule.check_releases`) so
`spendmap run` and `spendmap serve` work from any directory after `pip install`; this file is what
`prefect deploy` and `prefect.yaml` point at.

Run the pipeline once:   python flows/main_flow.py
Serve on a schedule:     spendmap serve --cron "0 6 * * 1"   (needs `prefect server start` running)
"""

from spendmap.pipeline import spendmap_run
from spendmap.run_config import RunParams
from spendmap.schedule import check_releases

__all__ = ["check_releases", "spendmap_run"]

if __name__ == "__main__":
    spendmap_run(RunParams(offline=True, places="pfpp"))
