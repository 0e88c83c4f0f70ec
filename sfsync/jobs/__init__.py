"""Celery app, thin tasks and the beat schedule (distributed mode).

``celery -A sfsync.jobs worker`` and ``celery -A sfsync.jobs beat`` (or ``sfsync worker`` /
``sfsync beat``) find :data:`app` here; importing the package registers every task.
"""

from sfsync.jobs import tasks as tasks
from sfsync.jobs.app import app as app

__all__ = ["app"]
