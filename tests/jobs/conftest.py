from tests.worker_process import eager_mode, redis_mode, task_mode, worker

__all__ = ["eager_mode", "redis_mode", "task_mode", "worker"]
