"""Shared state in Redis: durable records (spooled while Redis is down), agent pool keys, the atomic pick."""

from esl_apps.store.connect import connect
from esl_apps.store.records import MemoryRecordLog, RecordLog

__all__ = ["MemoryRecordLog", "RecordLog", "connect"]
