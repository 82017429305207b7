"""The embedded server's ``SchedulerService``: every RPC, for the ``local`` adaptor.

Handlers only translate between messages and :mod:`~rxxenon.server._local_scheduler`; errors
are raised as :mod:`rxxenon._errors` classes and turned into statuses by :func:`rpc`.
"""

from __future__ import annotations

from rxxenon._proto import xenon_pb2 as pb
from rxxenon._proto import xenon_pb2_grpc as pb_grpc
from rxxenon.server._adaptors import (
    LOCAL,
    SCHEDULER_ADAPTOR_NAMES,
    check_adaptor,
    check_create_request,
    local_description,
)
from rxxenon.server._interactive import InteractiveContext, run_interactive_call
from rxxenon.server._jobs import JobSnapshot
from rxxenon.server._local_scheduler import QUEUE_NAMES, LocalScheduler, QueueState
from rxxenon.server._registry import Registry, os_user
from rxxenon.server._runtime import JobRuntime
from rxxenon.server._status import Context, rpc

__all__ = ["SchedulerServicer"]

_QueueErrorType = pb.QueueStatus.ErrorType


def _job_status(snapshot: JobSnapshot) -> pb.JobStatus:
    return pb.JobStatus(
        job=pb.Job(id=snapshot.job_id),
        state=snapshot.state,
        running=snapshot.running,
        done=snapshot.done,
        exit_code=snapshot.exit_code,
        error_message=snapshot.error_message,
        error_type=snapshot.error_type,
        name=snapshot.name,
    )


def _queue_status(state: QueueState) -> pb.QueueStatus:
    return pb.QueueStatus(
        name=state.name,
        error_message=state.error_message,
        error_type=_QueueErrorType.NOT_FOUND if state.error_message else _QueueErrorType.NONE,
    )


class SchedulerServicer(pb_grpc.SchedulerServiceServicer):
    """``SchedulerService`` over a :class:`Registry` of local schedulers.

    Args:
        registry: the server's open schedulers and file systems.
        runtime: the server's job runtime (shared by all schedulers).
    """

    def __init__(self, registry: Registry, runtime: JobRuntime) -> None:
        self._registry = registry
        self._runtime = runtime

    # Adaptors -----------------------------------------------------------------------------

    @rpc
    async def getAdaptorDescriptions(
        self, request: pb.Empty, context: Context
    ) -> pb.SchedulerAdaptorDescriptions:
        return pb.SchedulerAdaptorDescriptions(descriptions=[local_description()])

    @rpc
    async def getAdaptorNames(self, request: pb.Empty, context: Context) -> pb.AdaptorNames:
        return pb.AdaptorNames(name=SCHEDULER_ADAPTOR_NAMES)

    @rpc
    async def getAdaptorDescription(
        self, request: pb.AdaptorName, context: Context
    ) -> pb.SchedulerAdaptorDescription:
        check_adaptor(request.name)
        return local_description()

    # Instances ----------------------------------------------------------------------------

    @rpc
    async def create(self, request: pb.CreateSchedulerRequest, context: Context) -> pb.Scheduler:
        check_create_request(request)
        username = request.default_credential.username or os_user()
        return self._new_scheduler(request.location, username)

    @rpc
    async def localScheduler(self, request: pb.Empty, context: Context) -> pb.Scheduler:
        return self._new_scheduler("", os_user())

    def _new_scheduler(self, location: str, username: str) -> pb.Scheduler:
        registry = self._registry
        scheduler_id = f"{LOCAL}://{username}@{location}#{registry.new_hash()}"
        filesystem = registry.new_file_system(location, username)
        scheduler = LocalScheduler(scheduler_id, location, filesystem, self._runtime)
        registry.add_scheduler(scheduler)
        return pb.Scheduler(id=scheduler.id)

    @rpc
    async def listSchedulers(self, request: pb.Empty, context: Context) -> pb.Schedulers:
        return pb.Schedulers(
            schedulers=[pb.Scheduler(id=s.id) for s in self._registry.schedulers()]
        )

    @rpc
    async def close(self, request: pb.Scheduler, context: Context) -> pb.Empty:
        self._registry.remove_scheduler(request.id)  # its jobs keep running
        return pb.Empty()

    @rpc
    async def isOpen(self, request: pb.Scheduler, context: Context) -> pb.Is:
        self._scheduler(request)
        return pb.Is(value=True)

    def _scheduler(self, handle: pb.Scheduler) -> LocalScheduler:
        return self._registry.scheduler(handle.id)

    # Information --------------------------------------------------------------------------

    @rpc
    async def getAdaptorName(self, request: pb.Scheduler, context: Context) -> pb.AdaptorName:
        return pb.AdaptorName(name=self._scheduler(request).adaptor)

    @rpc
    async def getLocation(self, request: pb.Scheduler, context: Context) -> pb.Location:
        return pb.Location(location=self._scheduler(request).location)

    @rpc
    async def getCredential(
        self, request: pb.Scheduler, context: Context
    ) -> pb.GetCredentialResponse:
        self._scheduler(request)
        # The OS user, even for a scheduler created with another DefaultCredential username.
        return pb.GetCredentialResponse(default_credential=pb.DefaultCredential(username=os_user()))

    @rpc
    async def getProperties(self, request: pb.Scheduler, context: Context) -> pb.Properties:
        self._scheduler(request)
        return pb.Properties()  # creating a local scheduler with any property fails

    @rpc
    async def getQueueNames(self, request: pb.Scheduler, context: Context) -> pb.Queues:
        self._scheduler(request)
        return pb.Queues(name=QUEUE_NAMES)

    @rpc
    async def getDefaultQueueName(self, request: pb.Scheduler, context: Context) -> pb.Queue:
        self._scheduler(request)
        return pb.Queue(name=QUEUE_NAMES[0])

    @rpc
    async def getDefaultRuntime(
        self, request: pb.Scheduler, context: Context
    ) -> pb.GetDefaultRuntimeResponse:
        self._scheduler(request)
        return pb.GetDefaultRuntimeResponse(value=0)

    @rpc
    async def getFileSystem(self, request: pb.Scheduler, context: Context) -> pb.FileSystem:
        filesystem = self._scheduler(request).filesystem
        self._registry.add_file_system(filesystem)
        return pb.FileSystem(id=filesystem.id)

    # Queues -------------------------------------------------------------------------------

    @rpc
    async def getJobs(self, request: pb.SchedulerAndQueues, context: Context) -> pb.Jobs:
        ids = self._scheduler(request.scheduler).job_ids(request.queues)
        return pb.Jobs(jobs=[pb.Job(id=job_id) for job_id in ids])

    @rpc
    async def getQueueStatus(
        self, request: pb.GetQueueStatusRequest, context: Context
    ) -> pb.QueueStatus:
        return _queue_status(self._scheduler(request.scheduler).queue_state(request.queue))

    @rpc
    async def getQueueStatuses(
        self, request: pb.SchedulerAndQueues, context: Context
    ) -> pb.QueueStatuses:
        states = self._scheduler(request.scheduler).queue_states(request.queues)
        return pb.QueueStatuses(statuses=[_queue_status(state) for state in states])

    # Jobs ---------------------------------------------------------------------------------

    @rpc
    async def submitBatchJob(self, request: pb.SubmitBatchJobRequest, context: Context) -> pb.Job:
        job = self._scheduler(request.scheduler).submit(request.description, interactive=False)
        return pb.Job(id=job.id)

    @rpc
    async def submitInteractiveJob(  # type: ignore[override]  # writes with context.write
        self, request: object, context: InteractiveContext
    ) -> None:
        await run_interactive_call(self._registry, context)

    @rpc
    async def getJobStatus(self, request: pb.JobRequest, context: Context) -> pb.JobStatus:
        return _job_status(self._scheduler(request.scheduler).status(request.job.id))

    @rpc
    async def getJobStatuses(
        self, request: pb.GetJobStatusesRequest, context: Context
    ) -> pb.GetJobStatusesResponse:
        scheduler = self._scheduler(request.scheduler)
        snapshots = scheduler.statuses([job.id for job in request.jobs])
        return pb.GetJobStatusesResponse(statuses=[_job_status(s) for s in snapshots])

    @rpc
    async def waitUntilDone(self, request: pb.WaitRequest, context: Context) -> pb.JobStatus:
        scheduler = self._scheduler(request.scheduler)
        return _job_status(await scheduler.wait_until_done(request.job.id, request.timeout))

    @rpc
    async def waitUntilRunning(self, request: pb.WaitRequest, context: Context) -> pb.JobStatus:
        scheduler = self._scheduler(request.scheduler)
        return _job_status(await scheduler.wait_until_running(request.job.id, request.timeout))

    @rpc
    async def cancelJob(self, request: pb.JobRequest, context: Context) -> pb.JobStatus:
        return _job_status(await self._scheduler(request.scheduler).cancel(request.job.id))
