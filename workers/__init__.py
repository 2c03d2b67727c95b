"""Celery workers: the application (workers/app.py) and its thin tasks (workers/tasks.py)."""
