"""The one table of intended divergences between the two servers the suite runs against.

Each entry names a conformance test (its node id without the server parameter, relative to
the repository: ``tests/server/test_copy.py::test_copy_a_file``; a test with other
parameters may be named as a whole or as one case, ``...::test_x[ssh]``) and the server that
differs from what the test states. ``tests/conftest.py`` runs that test against that server
as a strict xfail with the entry's reason: if the server ever passes it, the entry is wrong
and the run fails. An entry that names no test of that server fails the run too.

``docs/embedded-server.md`` ("Divergences from xenon-grpc 3.0.1") describes the same
divergences for readers; ``tests/test_divergences.py`` checks that the two agree.
"""

from __future__ import annotations

from dataclasses import dataclass

from tests.servers import SERVERS, XENON_GRPC

__all__ = ["DIVERGENCES", "Divergence", "divergence_for"]


@dataclass(frozen=True)
class Divergence:
    """One intended divergence.

    Attributes:
        test: the test's node id without the server parameter.
        server: the server that does not do what the test states (usually ``xenon-grpc``).
        reason: what that server does instead (the xfail reason).
    """

    test: str
    server: str
    reason: str

    def __post_init__(self) -> None:
        if self.server not in SERVERS:
            raise ValueError(f"{self.test}: unknown server {self.server!r}")


def _java(test: str, reason: str) -> Divergence:
    return Divergence(test, XENON_GRPC, reason)


S = "tests/server/"

#: Every intended divergence, in the order of the table in docs/embedded-server.md.
DIVERGENCES: tuple[Divergence, ...] = (
    # 1. Backpressure
    _java(
        f"{S}test_interactive.py::test_a_client_that_stops_reading_pauses_the_job",
        "no backpressure: it reads a job's output into memory as fast as the job writes it",
    ),
    _java(
        "tests/test_interactive.py::test_a_slow_subscriber_slows_its_job_not_the_others",
        "no backpressure: a slow subscriber does not slow the job, which ends",
    ),
    # 2. Output message size
    _java(
        f"{S}test_interactive.py::test_output_comes_in_pieces_larger_than_1_kib",
        "interactive output comes in messages of at most 1024 bytes",
    ),
    # 3. What cancelJob kills
    _java(
        f"{S}test_cancel.py::test_cancel_kills_the_whole_process_group",
        "cancelJob kills only the job's own process: it blocks ~2 s, says RUNNING, and the "
        "job's children live on",
    ),
    _java(
        f"{S}test_cancel.py::test_cancel_interactive_kills_its_group_and_ends_the_stream",
        "cancelJob kills only the job's own process: its orphans keep the stream open",
    ),
    # 4. A client that goes away mid-stream
    _java(
        f"{S}test_interactive.py::test_client_cancel_leaves_the_job_running_to_its_end",
        "after a client cancel it stops reading the job's output: the job blocks on a full pipe",
    ),
    # 5. Half-close without a request
    _java(
        f"{S}test_interactive.py::test_half_close_without_any_request",
        "no answer at all to a call that sends no request: it runs into the deadline",
    ),
    # 6. Waiting
    _java(
        f"{S}test_job_status.py::test_waits_are_event_driven",
        "waitUntilDone polls every 1000 ms: a job of 0.1 s is seen done after 1 s",
    ),
    # 7. Adaptor lists
    _java(
        f"{S}test_adaptors.py::test_adaptor_names_are_the_implemented_ones",
        "it has six scheduler adaptors",
    ),
    _java(
        f"{S}test_adaptors.py::test_xenon_grpc_only_adaptors_are_unknown_with_a_hint",
        "it has these adaptors",
    ),
    _java(
        f"{S}test_filesystems.py::test_adaptor_names_are_the_implemented_ones",
        "it has five file-system adaptors",
    ),
    _java(
        f"{S}test_filesystems.py::test_xenon_grpc_only_adaptors_are_unknown_with_a_hint",
        "it has these adaptors",
    ),
    # 9. List order
    _java(
        f"{S}test_scheduler_instances.py::test_list_schedulers_in_creation_order",
        "listSchedulers is in hash-map order",
    ),
    _java(
        f"{S}test_filesystems.py::test_list_file_systems_in_creation_order",
        "listFileSystems is in hash-map order",
    ),
    # 10. getJobStatuses with an empty id
    _java(
        f"{S}test_job_status.py::test_empty_id_fails_every_read",
        "getJobStatuses reads (and forgets) the finished jobs before the empty id, then fails",
    ),
    # 11. readFromFile messages
    _java(
        f"{S}test_streams.py::test_a_file_comes_in_pieces_that_any_client_can_receive",
        "a file comes as one message: over 4 MiB, a client with default options fails",
    ),
    _java(
        f"{S}test_streams.py::test_a_client_that_stops_reading_leaves_nothing_open",
        "a file comes as one message (64 MiB here: over gRPC's default 4 MiB limit)",
    ),
    _java(
        "tests/test_filesystem_client.py::test_disposing_a_read_mid_stream_cancels_it",
        "a file comes as one message: there is nothing left to cancel",
    ),
    # 14. is_writable
    _java(
        f"{S}test_attributes.py::test_is_writable_is_true_where_the_server_may_write",
        "is_writable is false for every path",
    ),
    # 15. bytes_to_copy
    _java(f"{S}test_copy.py::test_copy_a_file", "bytes_to_copy is 0 for a single file"),
    # 16. Copy states
    _java(
        f"{S}test_copy.py::test_copies_run_one_at_a_time_in_order",
        "getStatus says PENDING for a copy that is copying",
    ),
    # 17. An upload message of 4 MiB or more
    _java(
        f"{S}test_streams.py::test_a_message_of_4_mib_or_more_is_refused",
        'it resets the stream: CANCELLED "Stream removed"',
    ),
    # 18. A file copied onto itself
    _java(
        f"{S}test_copy.py::test_copy_a_file_onto_itself",
        "REPLACE onto itself destroys the file and fails (Stream copy failed)",
    ),
    # 19. Closing a file system
    _java(
        f"{S}test_filesystems.py::test_close_cancels_the_copies_of_the_file_system",
        "closing a file system leaves its copies running, out of reach",
    ),
)


def divergence_for(test: str, params: str, server: str) -> Divergence | None:
    """The entry for ``test`` (``path::name``) with the other parameters ``params`` (``""``
    if none) against ``server``, if there is one."""
    names = {test, f"{test}[{params}]"} if params else {test}
    for entry in DIVERGENCES:
        if entry.server == server and entry.test in names:
            return entry
    return None
