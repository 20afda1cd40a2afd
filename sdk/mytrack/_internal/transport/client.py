"""The gRPC connection to the service: one typed method per RPC, errors translated at the edge.

Only this module (and the record encoder, `encode.py`) touches protobuf
messages: callers pass and get the plain values of `service_types`, and see
mytrack errors, never grpc's (`translate`). The record stream is here too
(`RecordStream`): the sender hands it serialized records and gets acks back.

gRPC is imported on first use, not when this module is (see `_grpc`).
"""

from __future__ import annotations

import json
import os
import queue
import sys
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from types import ModuleType
from typing import TYPE_CHECKING, Any

from mytrack._internal.transport.encode import dumps
from mytrack._internal.transport.filters import encode_filters
from mytrack._internal.transport.service_types import (
    FileChunk,
    FileInfo,
    OpenedRun,
    OpenRun,
    ProjectInfo,
    RunInfo,
    RunKey,
    ServiceStatus,
    StopResult,
    StreamHello,
    SyncResult,
)
from mytrack.errors import CommError, InvalidValueError, ResumeError, RunLiveError, RunNotFoundError
from mytrack_common.address import GRPC_OPTIONS, ServiceAddress
from mytrack_proto import mytrack_pb2 as pb

if TYPE_CHECKING:
    import grpc

_FORK_SUPPORT = "GRPC_ENABLE_FORK_SUPPORT"


def _grpc() -> ModuleType:
    """The grpc module, imported the first time with gRPC's fork support off.

    gRPC's core reads ``GRPC_ENABLE_FORK_SUPPORT`` once, when the extension is
    imported, and with it unset installs fork handlers; forked children
    (DataLoader workers) never use the parent's channel, and those handlers
    would only print warnings about threads inside gRPC. So the variable is set
    for the import alone and taken out again: the program's own environment,
    and what its child processes inherit, stay as they were. A value the user
    set is left alone, and so is a grpc the program imported before us.
    """
    module = sys.modules.get("grpc")
    if module is not None:
        return module
    added = _FORK_SUPPORT not in os.environ
    if added:
        os.environ[_FORK_SUPPORT] = "false"
    try:
        import grpc
    finally:
        if added:
            os.environ.pop(_FORK_SUPPORT, None)
    return grpc


class ServiceClient:
    """A channel to the service on one address, and a typed method per RPC."""

    def __init__(self, address: ServiceAddress) -> None:
        grpc = _grpc()
        from mytrack_proto import mytrack_pb2_grpc as pb_grpc  # imports grpc: after _grpc()

        self.address = address
        self._channel = grpc.insecure_channel(address.target, options=GRPC_OPTIONS)
        # The generated stub is untyped; each method below says what its RPC returns.
        stub: Callable[[Any], Any] = pb_grpc.TrackerStub
        self._stub = stub(self._channel)

    # -- runs ----------------------------------------------------------------------

    def open_run(self, request: OpenRun, timeout: float | None = 30.0) -> OpenedRun:
        """Opens, resumes or adopts a run (ResumeError when the resume rule refuses)."""
        reply = self._unary(self._stub.OpenRun, _open_run_message(request), timeout)
        return OpenedRun(
            run=_run_info(reply.run), resumed=reply.resumed, starting_step=reply.starting_step,
            wal_path=reply.wal_path, web_base=reply.web_base, web_token=reply.web_token,
        )

    def sync(self, run: RunKey, writer_id: str, last_seq: int, timeout: float) -> SyncResult:
        """Waits (at most ``timeout`` in the service) until records up to ``last_seq`` are applied."""
        request = pb.SyncRequest(run=_key(run), writer_id=writer_id, last_seq=last_seq, timeout=timeout)
        reply = self._unary(self._stub.Sync, request, timeout + 5)
        return SyncResult(_run_info(reply.run), reply.timed_out, reply.history_rows)

    def status(
        self, run: RunKey | None = None, writer_id: str = "", quick: bool = False,
        timeout: float | None = 30.0,
    ) -> ServiceStatus:
        """The service's status; with ``run``/``writer_id``, that run's and writer's counts."""
        request = pb.StatusRequest(writer_id=writer_id, quick=quick)
        if run is not None:
            request.run.CopyFrom(_key(run))
        return _status(self._unary(self._stub.Status, request, timeout))

    def get_run(self, run: RunKey, timeout: float | None = 30.0) -> RunInfo:
        return _run_info(self._unary(self._stub.GetRun, _key(run), timeout))

    def list_runs(
        self, entity: str, project: str, filters: object = None,
        timeout: float | None = 30.0,
    ) -> list[RunInfo]:
        """Runs of a project ("" for all), newest first, matching a MongoDB-style filter.

        Raises:
            InvalidTypeError, InvalidValueError: ``filters`` is not a filter document
                (checked here, before anything is sent).
        """
        request = pb.ListRunsRequest(entity=entity, project=project, filters_json=encode_filters(filters))
        return [_run_info(info) for info in self._unary(self._stub.ListRuns, request, timeout).runs]

    def list_projects(self, timeout: float | None = 30.0) -> list[ProjectInfo]:
        reply = self._unary(self._stub.ListProjects, pb.ListProjectsRequest(), timeout)
        return [ProjectInfo(p.entity, p.project, p.run_count, p.last_activity) for p in reply.projects]

    def stop_run(self, run: RunKey, timeout: float | None = 30.0) -> StopResult:
        reply = self._unary(self._stub.StopRun, _key(run), timeout)
        return StopResult(reply.delivered, reply.state)

    def scan_history(
        self, run: RunKey, keys: Sequence[str] = (), min_step: int | None = None,
        max_step: int | None = None, page_size: int = 0, stream: str = "history", label: str = "",
    ) -> Iterator[bytes]:
        """The pages (JSON arrays of rows) of a run's history, system or console stream."""
        request = pb.HistoryRequest(
            run=_key(run), keys=list(keys), page_size=page_size, stream=stream, label=label
        )
        if min_step is not None:
            request.min_step = int(min_step)
        if max_step is not None:
            request.max_step = int(max_step)
        for page in self._stream(self._stub.ScanHistory, request):
            yield page.rows_json

    def shutdown(self, timeout: float | None = 30.0) -> None:
        self._unary(self._stub.Shutdown, pb.ShutdownRequest(), timeout)

    # -- files and artifacts ---------------------------------------------------------

    def list_files(self, run: RunKey, timeout: float | None = 30.0) -> list[FileInfo]:
        return [_file_info(f) for f in self._unary(self._stub.ListFiles, _key(run), timeout).files]

    def read_file(self, run: RunKey, name: str) -> Iterator[FileChunk]:
        """File ``name`` of ``run`` in pieces; the first carries its info (the digest)."""
        for chunk in self._stream(self._stub.ReadFile, pb.FileRequest(run=_key(run), name=name)):
            info = _file_info(chunk.info) if chunk.HasField("info") else None
            yield FileChunk(info, chunk.data)

    def read_blob(self, digest: str) -> Iterator[bytes]:
        for chunk in self._stream(self._stub.ReadBlob, pb.BlobRequest(digest=digest)):
            yield chunk.data

    def artifact_query(self, kind: str, request: Mapping[str, Any], timeout: float = 60.0) -> Any:
        """An artifact question (``kind``: resolve, versions, result...) and its JSON answer."""
        message = pb.JsonRequest(kind=kind, json=dumps(dict(request)))
        return json.loads(self._unary(self._stub.ArtifactQuery, message, timeout).json)

    def sweep_call(self, kind: str, request: Mapping[str, Any], timeout: float = 60.0) -> Any:
        """A sweep request (``kind``: create, next, check, report, update, get, list) and its JSON answer."""
        message = pb.JsonRequest(kind=kind, json=dumps(dict(request)))
        return json.loads(self._unary(self._stub.Sweep, message, timeout).json)

    def admin_call(self, kind: str, request: Mapping[str, Any], timeout: float = 600.0) -> Any:
        """A change to what is stored (``kind``: delete_runs, update_run, gc) and its JSON answer.

        Raises:
            RunLiveError: the service refused because the run is live.
        """
        message = pb.JsonRequest(kind=kind, json=dumps(dict(request)))
        try:
            return json.loads(self._unary(self._stub.Admin, message, timeout).json)
        except ResumeError as exc:  # FAILED_PRECONDITION: here always a live run
            raise RunLiveError(str(exc)) from None

    # -- the record stream ---------------------------------------------------------

    def open_stream(
        self, hello: StreamHello, on_ack: Callable[[int], None],
        on_notice: Callable[[str, str], None], on_broken: Callable[[RecordStream, str], None],
    ) -> RecordStream:
        """Starts a Stream call for one writer; see `RecordStream`."""
        return RecordStream(self._stub.Stream, hello, on_ack, on_notice, on_broken)

    def close(self) -> None:
        self._channel.close()

    # -- calls, errors translated ------------------------------------------------------

    def _unary(self, rpc: Callable[..., Any], request: Any, timeout: float | None) -> Any:
        try:
            return rpc(request, timeout=timeout)
        except _grpc().RpcError as exc:
            raise translate(exc, self.address) from None
        except ValueError as exc:  # "Cannot invoke RPC on closed channel!"
            raise CommError(f"the connection to the mytrack service is closed: {exc}") from None

    def _stream(self, rpc: Callable[..., Any], request: Any) -> Iterator[Any]:
        try:
            yield from rpc(request)
        except _grpc().RpcError as exc:
            raise translate(exc, self.address) from None
        except ValueError as exc:
            raise CommError(f"the connection to the mytrack service is closed: {exc}") from None


class RecordStream:
    """One bidirectional Stream call: batches and heartbeats out, acks and notices in.

    Requests go through a queue that gRPC drains from its own thread; the
    replies are read on a thread named ``mytrack-acks``, which calls
    ``on_ack(seq)`` and ``on_notice(kind, text)``, and ``on_broken(stream,
    error)`` once when the call ends for any reason (then ``broken`` is True).
    """

    def __init__(
        self, start: Callable[[Iterator[pb.ClientMessage]], Any], hello: StreamHello,
        on_ack: Callable[[int], None], on_notice: Callable[[str, str], None],
        on_broken: Callable[[RecordStream, str], None],
    ) -> None:
        # Batches wait here as (first seq, payloads): the payloads are the very
        # bytes the sender keeps until acked, so records waiting for a stalled
        # stream are held once, not twice; the message is built when gRPC takes it.
        self._requests: queue.SimpleQueue[pb.ClientMessage | tuple[int, list[bytes]] | None] = (
            queue.SimpleQueue()
        )
        self._requests.put(pb.ClientMessage(hello=pb.Hello(
            writer_id=hello.writer_id, run=_key(hello.run), pid=hello.pid, host=hello.host)))
        self._on_ack, self._on_notice, self._on_broken = on_ack, on_notice, on_broken
        self.broken = False
        self._call = start(self._iterate())
        self._reader = threading.Thread(target=self._read, name="mytrack-acks", daemon=True)
        self._reader.start()

    def send_batch(self, first_seq: int, records: list[bytes]) -> None:
        """Records ``first_seq``, ``first_seq + 1``... (serialized by `encode`)."""
        self._requests.put((first_seq, records))

    def send_heartbeat(self, timestamp: float) -> None:
        self._requests.put(pb.ClientMessage(heartbeat=pb.Heartbeat(timestamp=timestamp)))

    def close(self) -> None:
        """Ends the requests; the service then ends the call."""
        self._requests.put(None)

    def cancel(self) -> None:
        self._requests.put(None)
        self._call.cancel()

    def _iterate(self) -> Iterator[pb.ClientMessage]:
        while True:
            message = self._requests.get()
            if message is None:
                return
            if isinstance(message, tuple):
                first_seq, records = message
                yield pb.ClientMessage(batch=pb.RecordBatch(first_seq=first_seq, records=records))
            else:
                yield message

    def _read(self) -> None:
        error = "the service closed the stream"
        try:
            for message in self._call:
                if message.HasField("ack"):
                    self._on_ack(message.ack.acked_seq)
                elif message.HasField("notice"):
                    self._on_notice(message.notice.kind, message.notice.text)
        except _grpc().RpcError as exc:
            error = str(exc.details() or exc.code()) if hasattr(exc, "details") else str(exc)
        self.broken = True
        self._on_broken(self, error)


def probe(
    address: ServiceAddress, timeout: float = 1.0, unused: list[ServiceClient] | None = None
) -> ServiceClient | None:
    """A client of the service on ``address`` if one answers, else None.

    Each probe uses a fresh channel: a channel that once failed to connect
    backs off before trying again, which would hide a service that has just
    started. The channel that answered is the one handed back. ``unused`` may
    hold a client made earlier that never tried to connect; it is taken first.
    """
    if not os.path.exists(address.socket):
        return None
    client = unused.pop() if unused else ServiceClient(address)
    try:
        client._stub.Status(pb.StatusRequest(quick=True), timeout=timeout)
        return client
    except _grpc().RpcError:
        client.close()
        return None


def translate(exc: grpc.RpcError, address: ServiceAddress) -> Exception:
    """The mytrack error for a failed call: the status code decides the class."""
    codes = _grpc().StatusCode
    code = exc.code() if hasattr(exc, "code") else None
    details = (exc.details() if hasattr(exc, "details") else None) or str(code)
    if code == codes.NOT_FOUND:
        return RunNotFoundError(details)
    if code == codes.INVALID_ARGUMENT:
        return InvalidValueError(details)
    if code in (codes.FAILED_PRECONDITION, codes.ALREADY_EXISTS):
        return ResumeError(details)
    if code == codes.DEADLINE_EXCEEDED:
        return CommError(f"the mytrack service at {address.socket} did not answer in time")
    if code == codes.UNAVAILABLE:
        return CommError(f"the mytrack service at {address.socket} is not reachable: {details}")
    return CommError(f"the mytrack service failed: {details} (see {address.log})")


# -- messages to and from plain values ---------------------------------------------------


def serialize_open_run(request: OpenRun) -> bytes:
    """A run folder's ``.open`` file: the OpenRun request, as sent."""
    return bytes(_open_run_message(request).SerializeToString())


def parse_open_run(data: bytes) -> OpenRun:
    """Reads back a ``.open`` file (DecodeError, a ValueError, if it is damaged)."""
    m = pb.OpenRunRequest.FromString(data)
    return OpenRun(
        run=_run_key(m.run), writer_id=m.writer_id, name=m.name, group=m.group, job_type=m.job_type,
        tags=tuple(m.tags), notes=m.notes, config_json=m.config_json, resume=m.resume,
        run_dir=m.run_dir, start_time=m.start_time, pid=m.pid, host=m.host, sweep_id=m.sweep_id,
        mode=m.mode, adopt_wal=m.adopt_wal, shared=m.shared, primary=m.primary, label=m.label,
        stats_interval=m.stats_interval if m.HasField("stats_interval") else None,
    )


def _open_run_message(r: OpenRun) -> pb.OpenRunRequest:
    message = pb.OpenRunRequest(
        run=_key(r.run), writer_id=r.writer_id, name=r.name, group=r.group, job_type=r.job_type,
        tags=list(r.tags), notes=r.notes, config_json=r.config_json, resume=r.resume,
        run_dir=r.run_dir, start_time=r.start_time, pid=r.pid, host=r.host, sweep_id=r.sweep_id,
        mode=r.mode, adopt_wal=r.adopt_wal, shared=r.shared, primary=r.primary, label=r.label,
    )
    if r.stats_interval is not None:
        message.stats_interval = r.stats_interval
    return message


def _key(key: RunKey) -> pb.RunKey:
    return pb.RunKey(entity=key.entity, project=key.project, run_id=key.run_id)


def _run_key(key: pb.RunKey) -> RunKey:
    return RunKey(key.entity, key.project, key.run_id)


def _run_info(m: pb.RunInfo) -> RunInfo:
    return RunInfo(
        key=_run_key(m.key), name=m.name, state=m.state, group=m.group, job_type=m.job_type,
        tags=tuple(m.tags), notes=m.notes, config_json=m.config_json, summary_json=m.summary_json,
        created_at=m.created_at, updated_at=m.updated_at, runtime=m.runtime, last_step=m.last_step,
        exit_code=m.exit_code, run_dir=m.run_dir, host=m.host, sweep_id=m.sweep_id,
        metadata_json=m.metadata_json, heartbeat_at=m.heartbeat_at, metrics_json=m.metrics_json,
    )


def _status(m: pb.StatusResponse) -> ServiceStatus:
    return ServiceStatus(
        pid=m.pid, socket=m.socket, uptime=m.uptime, active_runs=m.active_runs,
        records_received=m.records_received, records_applied=m.records_applied,
        version=m.version, store=m.store, writer_acked_seq=m.writer_acked_seq,
        writer_applied_seq=m.writer_applied_seq, last_applied_time=m.last_applied_time,
        last_error=m.last_error, writer_pending=m.writer_pending, files_pending=m.files_pending,
        bytes_pending=m.bytes_pending, upload_retries=m.upload_retries, conflicts=m.conflicts,
        web_base=m.web_base, web_token=m.web_token,
    )


def _file_info(m: pb.FileInfo) -> FileInfo:
    return FileInfo(
        name=m.name, size=m.size, digest=m.digest, updated_at=m.updated_at, policy=m.policy,
        mime=m.mime, pending=m.pending, uploads=m.uploads,
    )


# gRPC's import (about 50 ms of CPU) is paid by ``import mytrack``, not by init():
# 64 ranks starting together would otherwise spend it while their service starts
# (the 64-rank cold start's init p50 went from 0.8 s to 2 s). The fork-support
# variable is still only set around that import, never left in the environment.
_grpc()
