"""Everything in opsgate that imports Prefect: tasks wrapping the platform's plain steps, the
approval gate (pause for input), artifacts, resuming runs, and the local server.

Importing it also routes the module loggers of opsgate and of the workflows into the logs of the
Prefect run they belong to, so approvers and operators read them on the run's page.
"""

from opsgate.orchestration.logs import surface_logs

surface_logs()
