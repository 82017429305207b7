"""What the jobs of one server share: their background tasks, process groups, and stop."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any

from rxxenon.server._process import kill_group

if TYPE_CHECKING:
    from rxxenon.server._jobs import LocalJob

__all__ = ["JobRuntime"]

logger = logging.getLogger("rxxenon.server")

_SERVER_STOPPING = "Process killed because the server is stopping."
#: Seconds stop() waits for killed jobs to be reaped and their pipes to close, per step.
_SHUTDOWN_PATIENCE = 5.0


class JobRuntime:
    """What the jobs of one server share: background tasks, process groups, stop.

    Every task a job needs (running it, pumping its output) is started here, so that stopping
    the server can kill every process group the server started, reap them and finish the
    tasks. Used on the server's event loop only.

    Args:
        seconds_per_minute: the length of a ``max_runtime`` minute. Only tests change it.
    """

    def __init__(self, seconds_per_minute: float = 60.0) -> None:
        self.seconds_per_minute = seconds_per_minute
        self.closing = False
        self._tasks: set[asyncio.Task[None]] = set()
        self._live: set[LocalJob] = set()
        self._queued: set[LocalJob] = set()
        self._orphan_groups: set[int] = set()

    def start_task(self, coro: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None]:
        """Run ``coro`` in the background; an exception is logged, never lost or fatal."""
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("%s failed", task.get_name(), exc_info=task.exception())

    def job_queued(self, job: LocalJob) -> None:
        """``job`` waits in a queue: stopping the server must end it (``KILLED``)."""
        self._queued.add(job)

    def job_dequeued(self, job: LocalJob) -> None:
        """``job`` left its queue (to start, or because it was cancelled meanwhile)."""
        self._queued.discard(job)

    def job_started(self, job: LocalJob) -> None:
        """``job`` is being started: from now on stopping the server must kill it."""
        self._live.add(job)

    def job_ended(self, job: LocalJob, pgid: int | None) -> None:
        """``job`` could not start, or its process was reaped and its pipes closed.

        Its process group (``pgid``) is remembered if background processes still live in it.
        """
        self._live.discard(job)
        groups = [*self._orphan_groups] if pgid is None else [*self._orphan_groups, pgid]
        for group in groups:
            if _group_exists(group):
                self._orphan_groups.add(group)
            else:
                self._orphan_groups.discard(group)

    async def shutdown(self) -> None:
        """Kill every process group this server started, reap the jobs and end all tasks.

        Queued jobs are never started: they end ``KILLED`` at once. Groups of finished jobs
        that still have processes (a batch job's background children) are killed too, unless
        their id has been reused.
        """
        self.closing = True
        self._kill_all()
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=_SHUTDOWN_PATIENCE)
        for job in list(self._live):
            job.close_output()  # pipes held by processes outside the group
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=_SHUTDOWN_PATIENCE)
        for task in set(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(set(self._tasks))

    def _kill_all(self) -> None:
        for job in list(self._queued):  # never to start: end them, so their waits return
            job.kill(_SERVER_STOPPING)
        self._queued.clear()
        groups = set(self._orphan_groups)
        for job in list(self._live):
            if job.done and job.pgid is not None:
                groups.add(job.pgid)  # its leader was reaped; others still hold its pipes
            else:
                job.kill(_SERVER_STOPPING)
        for group in groups:
            if not os.path.exists(f"/proc/{group}"):  # the leader is gone, so the id is ours
                kill_group(group)
        self._orphan_groups.clear()


def _group_exists(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
