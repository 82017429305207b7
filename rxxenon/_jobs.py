"""Typed job values: descriptions, handles, statuses and queue statuses, with their wire forms."""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from rxxenon._proto import xenon_pb2 as pb

__all__ = ["Job", "JobDescription", "JobErrorType", "JobStatus", "QueueErrorType", "QueueStatus"]


@dataclass(frozen=True)
class JobDescription:
    """What to run and how. Empty or zero fields mean "the scheduler's default".

    Attributes:
        executable: program to run; looked up on the server's PATH. No shell is involved.
        arguments: passed to the program verbatim (no empty strings: servers reject them).
        working_directory: absolute, or relative to the scheduler's file-system working
            directory; empty means that directory.
        environment: variables added to the server's environment.
        queue_name: empty means the scheduler's default queue (``single`` on ``local``).
        max_runtime: minutes before the job is killed; 0 means no limit.
        stdin, stdout, stderr: file names (relative to the working directory) for batch
            jobs. Interactive jobs must leave them empty: their streams are the call's.
        name: echoed back in :attr:`JobStatus.name`.
        max_memory, scheduler_arguments, tasks, cores_per_task, tasks_per_node,
        start_per_task, start_time, temp_space: passed to batch schedulers as they are.
    """

    executable: str = ""
    arguments: Sequence[str] = ()
    working_directory: str = ""
    environment: Mapping[str, str] = field(default_factory=dict)
    queue_name: str = ""
    max_runtime: int = 0
    stdin: str = ""
    stdout: str = ""
    stderr: str = ""
    name: str = ""
    max_memory: int = 0
    scheduler_arguments: Sequence[str] = ()
    tasks: int = 0
    cores_per_task: int = 0
    tasks_per_node: int = 0
    start_per_task: bool = False
    start_time: str = ""
    temp_space: int = 0

    def to_proto(self) -> pb.JobDescription:
        """The wire form."""
        return pb.JobDescription(
            executable=self.executable,
            arguments=list(self.arguments),
            working_directory=self.working_directory,
            environment=dict(self.environment),
            queue_name=self.queue_name,
            max_runtime=self.max_runtime,
            stdin=self.stdin,
            stdout=self.stdout,
            stderr=self.stderr,
            name=self.name,
            max_memory=self.max_memory,
            scheduler_arguments=list(self.scheduler_arguments),
            tasks=self.tasks,
            cores_per_task=self.cores_per_task,
            tasks_per_node=self.tasks_per_node,
            start_per_task=self.start_per_task,
            start_time=self.start_time,
            temp_space=self.temp_space,
        )

    @classmethod
    def from_proto(cls, message: pb.JobDescription) -> JobDescription:
        """Read the wire form."""
        return cls(
            executable=message.executable,
            arguments=tuple(message.arguments),
            working_directory=message.working_directory,
            environment=dict(message.environment),
            queue_name=message.queue_name,
            max_runtime=message.max_runtime,
            stdin=message.stdin,
            stdout=message.stdout,
            stderr=message.stderr,
            name=message.name,
            max_memory=message.max_memory,
            scheduler_arguments=tuple(message.scheduler_arguments),
            tasks=message.tasks,
            cores_per_task=message.cores_per_task,
            tasks_per_node=message.tasks_per_node,
            start_per_task=message.start_per_task,
            start_time=message.start_time,
            temp_space=message.temp_space,
        )


@dataclass(frozen=True)
class Job:
    """Handle of a job: the id its scheduler gave it (``local-0``, a Slurm job number...)."""

    id: str

    def to_proto(self) -> pb.Job:
        return pb.Job(id=self.id)


class JobErrorType(enum.Enum):
    """Why a job has an error (:attr:`JobStatus.error_type`)."""

    NONE = pb.JobStatus.NONE
    NOT_FOUND = pb.JobStatus.NOT_FOUND
    CANCELLED = pb.JobStatus.CANCELLED
    NOT_CONNECTED = pb.JobStatus.NOT_CONNECTED
    XENON = pb.JobStatus.XENON
    IO = pb.JobStatus.IO
    OTHER = pb.JobStatus.OTHER


@dataclass(frozen=True)
class JobStatus:
    """The state of a job at one moment.

    Decide on :attr:`running`, :attr:`done` and :attr:`error_type`; :attr:`state`
    (``PENDING``, ``RUNNING``, ``DONE``, ``KILLED``, ``ERROR``, ``UNKNOWN`` on ``local``) is
    scheduler specific and meant for people.

    Attributes:
        job: the job.
        state: the scheduler's name for the state.
        running: the job runs now.
        done: the job has ended, for whatever reason.
        exit_code: the exit code once done (128 + N for a process killed by signal N; 0
            when the job was cancelled or failed to start).
        error_type: why the job failed, or ``NONE``.
        error_message: the scheduler's explanation, or ``""``.
        name: the name given in the job description.
        scheduler_specific_information: extra fields some schedulers fill in.
    """

    job: Job
    state: str
    running: bool
    done: bool
    exit_code: int
    error_type: JobErrorType
    error_message: str
    name: str
    scheduler_specific_information: Mapping[str, str]

    @property
    def succeeded(self) -> bool:
        """Done, without error, with exit code 0."""
        return self.done and self.error_type is JobErrorType.NONE and self.exit_code == 0

    @classmethod
    def from_proto(cls, message: pb.JobStatus) -> JobStatus:
        """Read the wire form."""
        return cls(
            job=Job(message.job.id),
            state=message.state,
            running=message.running,
            done=message.done,
            exit_code=message.exit_code,
            error_type=JobErrorType(message.error_type),
            error_message=message.error_message,
            name=message.name,
            scheduler_specific_information=dict(message.scheduler_specific_information),
        )


class QueueErrorType(enum.Enum):
    """Why a queue status has an error (:attr:`QueueStatus.error_type`)."""

    NONE = pb.QueueStatus.NONE
    NOT_FOUND = pb.QueueStatus.NOT_FOUND
    NOT_CONNECTED = pb.QueueStatus.NOT_CONNECTED
    XENON = pb.QueueStatus.XENON
    IO = pb.QueueStatus.IO
    OTHER = pb.QueueStatus.OTHER


@dataclass(frozen=True)
class QueueStatus:
    """The state of one queue; ``error_type`` says whether it could be read."""

    name: str
    error_type: QueueErrorType
    error_message: str
    scheduler_specific_information: Mapping[str, str]

    @classmethod
    def from_proto(cls, message: pb.QueueStatus) -> QueueStatus:
        """Read the wire form."""
        return cls(
            name=message.name,
            error_type=QueueErrorType(message.error_type),
            error_message=message.error_message,
            scheduler_specific_information=dict(message.scheduler_specific_information),
        )
