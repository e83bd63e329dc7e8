"""Read-only observers of jobs: the timeline of chunk runs, the report and its HTML."""
