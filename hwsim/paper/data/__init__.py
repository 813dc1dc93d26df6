"""Data for the paper's experiments: the two synthetic tasks and the image sets as float arrays."""

from .arrays import TaskData, load_task, TASKS

__all__ = ["TaskData", "load_task", "TASKS"]
