"""Everything in opsgate that imports Prefect: tasks wrapping the platform's plain steps, the
approval gate (pause for input), artifacts, resuming runs, and the local server."""
