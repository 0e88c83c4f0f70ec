"""Celery app, thin tasks and the beat schedule (distributed mode)."""
