"""gRPC handlers: the edge where messages become live_runs calls and back.

LiveRuns and store errors are turned into gRPC status codes here, with messages
meant for the user; nothing raw (sqlite, OS) crosses the socket.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable, Iterator
from typing import Any, NoReturn

import grpc

from mytrack_proto import mytrack_pb2 as pb
from mytrack_proto import mytrack_pb2_grpc as pb_grpc
from mytrack_service import __version__
from mytrack_service.apply.applier import Applier
from mytrack_service.blobs.base import BlobError, BlobNotFound, BlobStore
from mytrack_service.ingest.live_runs import IngestError, LiveRuns, OpenRequest
from mytrack_service.ingest.open_rules import open_request_problem
from mytrack_service.outbound.transfers import Transfers
from mytrack_service.query import artifacts, console_file, limits, streams
from mytrack_service.query.bare_keys import resolve_bare_keys
from mytrack_service.query.documents import run_document
from mytrack_service.query.filters import FilterError, matcher, validate_filter
from mytrack_service.reclaim.runs import RunAdmin
from mytrack_service.store.base import FileRow, RunKey, RunRow, StoreError
from mytrack_service.sweeps.controller import SweepController, SweepError

logger = logging.getLogger("mytrack_service.rpc")

_CODES = {
    "not_found": grpc.StatusCode.NOT_FOUND,
    "invalid": grpc.StatusCode.INVALID_ARGUMENT,
    "exists": grpc.StatusCode.ALREADY_EXISTS,
    "precondition": grpc.StatusCode.FAILED_PRECONDITION,
    "full": grpc.StatusCode.RESOURCE_EXHAUSTED,
}
_PAGE_ROWS = 2_000
_PAGE_BYTES = 4 * 1024 * 1024
_CHUNK_BYTES = 1 << 20


def _dumps(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), allow_nan=True).encode()


def _key(message: pb.RunKey) -> RunKey:
    return RunKey(message.entity, message.project, message.run_id)


def run_info(run: RunRow) -> pb.RunInfo:
    k = run.key
    return pb.RunInfo(
        key=pb.RunKey(entity=k.entity, project=k.project, run_id=k.run_id),
        name=run.name, state=run.state, group=run.group, job_type=run.job_type,
        tags=run.tags, notes=run.notes, config_json=_dumps(run.config),
        summary_json=_dumps(run.summary), created_at=run.created_at,
        updated_at=run.updated_at, runtime=run.runtime, last_step=run.last_step,
        exit_code=run.exit_code or 0, run_dir=run.run_dir, host=run.host,
        sweep_id=run.sweep_id, metadata_json=_dumps(run.metadata),
        heartbeat_at=run.heartbeat_at, metrics_json=_dumps(_metrics(run.service_state)),
    )


def _metrics(state: dict[str, Any]) -> list[dict[str, Any]]:
    """define_metric definitions in force (a shared run's nodes each keep theirs)."""
    if "nodes" not in state:
        return list(state.get("metrics", []))
    merged: dict[str, dict[str, Any]] = {}
    for node in state["nodes"].values():
        merged.update((m["name"], m) for m in node.get("metrics", []))
    return list(merged.values())


class TrackerService(pb_grpc.TrackerServicer):
    def __init__(
        self, live_runs: LiveRuns, applier: Applier, transfers: Transfers, blobs: BlobStore,
        socket_path: str, store_label: str, request_stop: Callable[[], None],
        web_base: str = "", web_token: Callable[[], str] = str, admin: RunAdmin | None = None,
        sweeps: SweepController | None = None,
    ) -> None:
        self.live_runs = live_runs
        self.admin = admin
        self.applier = applier
        self.transfers = transfers
        self.blobs = blobs
        self.socket_path = socket_path
        self.store_label = store_label
        self.request_stop = request_stop
        self.started = time.time()
        # The web UI's address and token, handed to clients ("": the UI is off).
        self.web_base = web_base
        self._web_token = web_token  # read per call: `mytrack ui --rotate-token` changes it
        self.sweeps = sweeps or SweepController(live_runs.store)

    @property
    def web_token(self) -> str:
        return self._web_token()

    # -- the stream -----------------------------------------------------------

    def Stream(
        self, request_iterator: Iterator[pb.ClientMessage], context: grpc.ServicerContext
    ) -> Iterator[pb.ServerMessage]:
        first = next(request_iterator, None)
        if first is None or not first.HasField("hello"):
            _abort(context, grpc.StatusCode.INVALID_ARGUMENT, "a stream must begin with Hello")
        hello = first.hello
        writer = self._call(context, lambda: self.live_runs.attach(hello.writer_id, hello.pid, hello.host))
        writer.streams += 1
        try:
            yield pb.ServerMessage(ack=pb.Ack(acked_seq=writer.max_seq))
            for message in request_iterator:
                kind = message.WhichOneof("kind")
                if kind == "batch":
                    batch = message.batch
                    acked = self._call(
                        context,
                        # _call runs it before the loop moves on: it sees this batch.
                        lambda: self.live_runs.append(writer, batch.first_seq, list(batch.records)),  # noqa: B023
                    )
                    yield pb.ServerMessage(ack=pb.Ack(acked_seq=acked))
                elif kind == "heartbeat":
                    self.live_runs.heartbeat(writer)
                # Notices (warnings, stop requests) ride on the replies; the SDK's
                # heartbeats make sure one comes within a heartbeat interval.
                while writer.notices:
                    notice_kind, text = writer.notices.pop(0)
                    yield pb.ServerMessage(notice=pb.Notice(kind=notice_kind, text=text))
        finally:
            writer.streams -= 1
            self.live_runs.heartbeat(writer)

    # -- control ----------------------------------------------------------------

    def OpenRun(self, request: pb.OpenRunRequest, context: grpc.ServicerContext) -> pb.OpenRunResponse:
        problem = open_request_problem(request)  # defence in depth: the SDK checked too
        if problem is not None:
            _abort(context, grpc.StatusCode.INVALID_ARGUMENT, f"cannot open the run: {problem}")
        try:
            config = json.loads(request.config_json or b"{}")
        except ValueError:
            _abort(context, grpc.StatusCode.INVALID_ARGUMENT, "config_json is not valid JSON")
        open_request = OpenRequest(
            key=_key(request.run), writer_id=request.writer_id, name=request.name,
            group=request.group, job_type=request.job_type, tags=list(request.tags),
            notes=request.notes, config=config, resume=request.resume, run_dir=request.run_dir,
            start_time=request.start_time, pid=request.pid, host=request.host,
            sweep_id=request.sweep_id, adopt_wal=request.adopt_wal, shared=request.shared,
            primary=request.primary or not request.shared, label=request.label,
            stats_interval=(
                request.stats_interval if request.HasField("stats_interval") else None
            ),
        )
        run, resumed, step, wal_path = self._call(context, lambda: self.live_runs.open_run(open_request))
        return pb.OpenRunResponse(
            run=run_info(run), resumed=resumed, starting_step=step, wal_path=wal_path,
            web_base=self.web_base, web_token=self.web_token,
        )

    def Sync(self, request: pb.SyncRequest, context: grpc.ServicerContext) -> pb.SyncResponse:
        self.applier.wake(urgent=True)
        timeout = request.timeout if request.timeout > 0 else 60.0
        deadline = time.monotonic() + timeout
        done = self.live_runs.wait_applied(request.writer_id, request.last_seq, timeout)
        key = _key(request.run)
        uploads = self.applier.uploads
        if done and uploads is not None:  # as W&B's finish(): the run's artifacts are committed
            done = uploads.wait_run(key, deadline - time.monotonic())
        run = self._call(context, lambda: self.live_runs.store.get_run(key))
        if run is None:
            _abort(context, grpc.StatusCode.NOT_FOUND, f"run {key.path} not found")
        rows = self._call(context, lambda: self.live_runs.store.count_history(key))
        return pb.SyncResponse(run=run_info(run), timed_out=not done, history_rows=rows)

    def Status(self, request: pb.StatusRequest, context: grpc.ServicerContext) -> pb.StatusResponse:
        if request.quick:
            return pb.StatusResponse(
                pid=os.getpid(), socket=self.socket_path, uptime=time.time() - self.started,
                version=__version__, web_base=self.web_base, web_token=self.web_token,
            )
        response = pb.StatusResponse(
            pid=os.getpid(), socket=self.socket_path, uptime=time.time() - self.started,
            active_runs=self.live_runs.active_runs(), records_received=self.live_runs.records_received,
            records_applied=self.live_runs.records_applied, version=__version__,
            store=self.store_label, last_applied_time=self.applier.last_applied_time,
            last_error=self.live_runs.write_error or self.applier.last_error
            or (self.applier.uploads.last_error if self.applier.uploads is not None else ""),
            web_base=self.web_base, web_token=self.web_token,
        )
        key = _key(request.run) if request.run.run_id else None
        # Quarantined records: a run's own, or (the service's status) the latest of any.
        response.last_error = response.last_error or self.applier.quarantine.note(
            key.path if key is not None else None)
        try:
            files, size = self.transfers.pending(key)
        except StoreError as exc:  # Status must answer while the store is down
            files = size = 0
            response.last_error = response.last_error or f"the store failed: {exc}"
        response.files_pending, response.bytes_pending = files, size
        response.upload_retries = self.transfers.retries
        if not response.last_error:
            response.last_error = self.transfers.last_error
        session = self.live_runs.session(key) if key is not None else None
        if session is not None:
            response.conflicts = session.assembly.conflicts
        writer = self.live_runs.writer(request.writer_id) if request.writer_id else None
        if writer is not None:
            response.writer_acked_seq = writer.max_seq
            response.writer_applied_seq = writer.applied_seq
            response.writer_pending = max(0, writer.max_seq - writer.applied_seq)
        return response

    def StopRun(self, request: pb.RunKey, context: grpc.ServicerContext) -> pb.StopRunResponse:
        key = _key(request)
        delivered, state = self._call(context, lambda: self.live_runs.stop_run(key))
        return pb.StopRunResponse(delivered=delivered, state=state)

    def Shutdown(self, request: pb.ShutdownRequest, context: grpc.ServicerContext) -> pb.ShutdownResponse:
        self.request_stop()
        return pb.ShutdownResponse()

    # -- queries ------------------------------------------------------------------

    def GetRun(self, request: pb.RunKey, context: grpc.ServicerContext) -> pb.RunInfo:
        key = _key(request)
        run = self._call(context, lambda: self.live_runs.store.get_run(key))
        if run is None:
            _abort(context, grpc.StatusCode.NOT_FOUND, f"run {key.path} not found")
        return run_info(run)

    def ListRuns(self, request: pb.ListRunsRequest, context: grpc.ServicerContext) -> pb.ListRunsResponse:
        # On the query pool with a deadline (query/limits.py): a heavy query
        # never takes the threads or the time that acknowledge writes.
        try:
            return limits.POOL.run(lambda deadline: self._list_runs(request, deadline), "ListRuns")
        except FilterError as exc:
            _abort(context, grpc.StatusCode.INVALID_ARGUMENT, f"invalid filters: {exc}")
        except limits.QueryLimitError as exc:
            _abort(context, grpc.StatusCode.RESOURCE_EXHAUSTED, str(exc))
        except StoreError as exc:
            _abort(context, grpc.StatusCode.UNAVAILABLE, f"the store failed: {exc}")

    def _list_runs(self, request: pb.ListRunsRequest, deadline: limits.Deadline) -> pb.ListRunsResponse:
        if len(request.filters_json) > limits.MAX_FILTER_BYTES:
            raise FilterError(f"the filter is longer than {limits.MAX_FILTER_BYTES} bytes")
        try:
            filters = json.loads(request.filters_json) if request.filters_json else None
        except (ValueError, RecursionError) as exc:
            raise FilterError(f"not JSON: {exc}") from None
        if filters:
            validate_filter(filters)
        runs = self.live_runs.store.list_runs(request.entity or None, request.project or None)
        wanted = matcher(resolve_bare_keys(filters, map(run_document, runs)))
        chosen: list[pb.RunInfo] = []
        for run in runs:
            deadline.check()
            if wanted(run_document(run)):
                chosen.append(run_info(run))
                if len(chosen) > limits.MAX_RUNS_RETURNED:
                    raise limits.QueryLimitError(
                        f"more than {limits.MAX_RUNS_RETURNED} runs match: narrow the filter"
                    )
        return pb.ListRunsResponse(runs=chosen)

    def ListProjects(
        self, request: pb.ListProjectsRequest, context: grpc.ServicerContext
    ) -> pb.ListProjectsResponse:
        projects = self._call(context, self.live_runs.store.list_projects)
        return pb.ListProjectsResponse(
            projects=[
                pb.ProjectInfo(entity=p.entity, project=p.project, run_count=p.run_count,
                               last_activity=p.last_activity)
                for p in projects
            ]
        )

    def ScanHistory(
        self, request: pb.HistoryRequest, context: grpc.ServicerContext
    ) -> Iterator[pb.HistoryPage]:
        key = _key(request.run)
        if self._call(context, lambda: self.live_runs.store.get_run(key)) is None:
            _abort(context, grpc.StatusCode.NOT_FOUND, f"run {key.path} not found")
        size = request.page_size or _PAGE_ROWS
        rows = self._stream_rows(key, request, context)
        # A page ends at `size` rows or `_PAGE_BYTES`, whichever comes first:
        # 2,000 rows of 200 KB made a page over gRPC's message limit.
        pacer = streams.Pacer(context.is_active, f"the history scan of {key.path}")
        page: list[bytes] = []
        page_bytes = 0
        try:
            for row in pacer.items(rows):
                encoded = _dumps(row)
                page.append(encoded)
                page_bytes += len(encoded)
                if len(page) >= size or page_bytes >= _PAGE_BYTES:
                    pacer.sent()
                    yield pb.HistoryPage(rows_json=b"[" + b",".join(page) + b"]", count=len(page))
                    page, page_bytes = [], 0
        except streams.StreamStopped:
            return  # the client is gone: nobody to answer
        except limits.QueryLimitError as exc:
            _abort(context, grpc.StatusCode.RESOURCE_EXHAUSTED, str(exc))
        except StoreError as exc:
            _abort(context, grpc.StatusCode.UNAVAILABLE, f"the store failed: {exc}")
        finally:
            pacer.sent()
            close = getattr(rows, "close", None)
            if close is not None:  # a scan stopped early lets go of its cursor now
                close()
        if page:
            yield pb.HistoryPage(rows_json=b"[" + b",".join(page) + b"]", count=len(page))

    def ListFiles(self, request: pb.RunKey, context: grpc.ServicerContext) -> pb.FileList:
        key = _key(request)
        if self._call(context, lambda: self.live_runs.store.get_run(key)) is None:
            _abort(context, grpc.StatusCode.NOT_FOUND, f"run {key.path} not found")
        rows = self._call(context, lambda: self.live_runs.store.list_files(key))
        if not any(row.name == console_file.NAME for row in rows):
            log = self._call(context, lambda: console_file.describe(self.live_runs.store, key))
            if log is not None:
                rows = sorted([*rows, log[0]], key=lambda row: row.name)
        return pb.FileList(files=[_file_info(row) for row in rows])

    def ReadFile(self, request: pb.FileRequest, context: grpc.ServicerContext) -> Iterator[pb.FileChunk]:
        key = _key(request.run)
        if self._call(context, lambda: self.live_runs.store.get_run(key)) is None:
            _abort(context, grpc.StatusCode.NOT_FOUND, f"run {key.path} not found")
        row = self._call(context, lambda: self.live_runs.store.get_file(key, request.name))
        if row is None and request.name == console_file.NAME:
            yield from self._read_console_file(key, context)
            return
        if row is None or not row.digest:
            what = "has no file" if row is None else "has not uploaded yet the file"
            _abort(context, grpc.StatusCode.NOT_FOUND, f"run {key.path} {what} {request.name!r}")
        try:
            with self.blobs.open(row.digest) as stream:
                yield pb.FileChunk(info=_file_info(row))
                yield from _paced_chunks(context, iter(lambda: stream.read(_CHUNK_BYTES), b""),
                                         f"reading {request.name!r} of {key.path}")
        except BlobError as exc:
            _abort(context, grpc.StatusCode.UNAVAILABLE, f"the blob store failed: {exc}")

    def _read_console_file(
        self, key: RunKey, context: grpc.ServicerContext
    ) -> Iterator[pb.FileChunk]:
        """The virtual ``output.log`` (see console_file.py)."""
        log = self._call(context, lambda: console_file.describe(self.live_runs.store, key))
        if log is None:
            _abort(context, grpc.StatusCode.NOT_FOUND,
                   f"run {key.path} has no file {console_file.NAME!r} (it printed nothing)")
        row, last_line = log
        yield pb.FileChunk(info=_file_info(row))
        try:
            yield from _paced_chunks(context, console_file.chunks(self.live_runs.store, key, last_line),
                                     f"reading {console_file.NAME!r} of {key.path}")
        except StoreError as exc:
            _abort(context, grpc.StatusCode.UNAVAILABLE, f"the store failed: {exc}")

    def _stream_rows(
        self, key: RunKey, request: pb.HistoryRequest, context: grpc.ServicerContext
    ) -> Iterator[dict[str, Any]]:
        low = request.min_step if request.HasField("min_step") else None
        high = request.max_step if request.HasField("max_step") else None
        label = request.label or None
        store = self.live_runs.store
        if request.stream in ("", "history"):
            return store.read_history(key, list(request.keys) or None, low, high)
        if request.stream == "system":
            return store.read_system(
                key, list(request.keys) or None, None if low is None else float(low),
                None if high is None else float(high), label,
            )
        if request.stream == "console":
            return store.read_console(key, label, low, high)
        _abort(context, grpc.StatusCode.INVALID_ARGUMENT,
               f"unknown stream {request.stream!r}: use history, system or console")

    # -- artifacts ----------------------------------------------------------------

    def ArtifactQuery(self, request: pb.JsonRequest, context: grpc.ServicerContext) -> pb.JsonResponse:
        try:
            query = json.loads(request.json or b"{}")
            if not isinstance(query, dict):
                raise ValueError("expected a JSON object")
        except ValueError as exc:
            _abort(context, grpc.StatusCode.INVALID_ARGUMENT, f"bad artifact query: {exc}")
        try:
            found = self._call(context, lambda: artifacts.answer(
                self.live_runs.store, request.kind, query, self._artifact_result))
        except artifacts.QueryError as exc:
            _abort(context, _CODES[exc.code], str(exc))
        return pb.JsonResponse(json=_dumps(found))

    def _artifact_result(self, client_id: str, timeout: float) -> dict[str, Any] | None:
        """The stored result of an artifact record, waiting until it is applied."""
        deadline = time.monotonic() + timeout
        self.applier.wake(urgent=True)
        while True:
            with self.live_runs.store.artifacts() as tx:
                found = tx.result(client_id)
            if found is not None or time.monotonic() >= deadline:
                return found
            self.live_runs.wait_changed(0.05)

    # -- sweeps -------------------------------------------------------------------

    def Sweep(self, request: pb.JsonRequest, context: grpc.ServicerContext) -> pb.JsonResponse:
        handlers: dict[str, Callable[[dict[str, Any]], Any]] = {
            "create": self.sweeps.create, "next": self.sweeps.next_trial, "check": self.sweeps.check,
            "report": self.sweeps.report, "update": self.sweeps.update, "get": self.sweeps.get,
            "list": self.sweeps.list_sweeps,
        }
        handler, query = _json_request(context, request, handlers, "sweep")
        try:
            found = self._call(context, lambda: handler(query))
        except SweepError as exc:
            _abort(context, _CODES.get(exc.code, grpc.StatusCode.UNKNOWN), str(exc))
        if request.kind == "check" and found.get("stop") and found.get("run"):
            self.live_runs.expect_kill(RunKey(*found["run"]))  # SIGKILL after term_timeout: killed
        return pb.JsonResponse(json=_dumps(found))

    def Admin(self, request: pb.JsonRequest, context: grpc.ServicerContext) -> pb.JsonResponse:
        admin = self.admin
        if admin is None:
            _abort(context, grpc.StatusCode.UNIMPLEMENTED, "this service cannot change stored runs")
        handlers: dict[str, Callable[[dict[str, Any]], Any]] = {
            "delete_runs": lambda q: admin.delete_runs(q.get("runs"), q.get("delete_artifacts", False)),
            "update_run": lambda q: admin.update_run(q.get("run"), q.get("fields")),
            "gc": lambda q: admin.blobs.sweep(dry_run=bool(q.get("dry_run"))).as_dict(),
        }
        handler, query = _json_request(context, request, handlers, "admin")
        try:
            found = self._call(context, lambda: handler(query))
        except BlobError as exc:
            _abort(context, grpc.StatusCode.UNAVAILABLE, f"the blob store failed: {exc}")
        return pb.JsonResponse(json=_dumps(found))

    def ReadBlob(self, request: pb.BlobRequest, context: grpc.ServicerContext) -> Iterator[pb.FileChunk]:
        try:
            stream = self.blobs.open(request.digest)
        except ValueError as exc:
            _abort(context, grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        except BlobNotFound:
            _abort(context, grpc.StatusCode.NOT_FOUND, f"no blob {request.digest}")
        except BlobError as exc:
            _abort(context, grpc.StatusCode.UNAVAILABLE, f"the blob store failed: {exc}")
        try:
            with stream:
                yield from _paced_chunks(context, iter(lambda: stream.read(_CHUNK_BYTES), b""),
                                         f"reading blob {request.digest[:12]}")
        except BlobError as exc:
            _abort(context, grpc.StatusCode.UNAVAILABLE, f"the blob store failed: {exc}")

    # -- helpers -----------------------------------------------------------------

    def _call(self, context: grpc.ServicerContext, fn: Callable[[], Any]) -> Any:
        try:
            return fn()
        except IngestError as exc:
            _abort(context, _CODES.get(exc.code, grpc.StatusCode.UNKNOWN), str(exc))
        except StoreError as exc:
            logger.warning("store error: %s", exc)
            _abort(context, grpc.StatusCode.UNAVAILABLE, f"the store failed: {exc}")
        except OSError as exc:
            logger.warning("I/O error: %s", exc)
            _abort(context, grpc.StatusCode.INTERNAL, f"the service hit an I/O error: {exc}")


def _paced_chunks(
    context: grpc.ServicerContext, chunks: Iterator[bytes], what: str
) -> Iterator[pb.FileChunk]:
    """A file's chunks under the client's deadline and a budget per chunk (query/streams.py)."""
    pacer = streams.Pacer(context.is_active, what)
    try:
        for data in pacer.items(chunks):
            pacer.sent()
            yield pb.FileChunk(data=data)
    except streams.StreamStopped:
        return
    except limits.QueryLimitError as exc:
        _abort(context, grpc.StatusCode.RESOURCE_EXHAUSTED, str(exc))
    finally:
        pacer.sent()


def _file_info(row: FileRow) -> pb.FileInfo:
    return pb.FileInfo(
        name=row.name, size=row.size, digest=row.digest, updated_at=row.updated_at,
        policy=row.policy, mime=row.mime, pending=row.pending, uploads=row.uploads,
    )


def _abort(context: grpc.ServicerContext, code: grpc.StatusCode, message: str) -> NoReturn:
    context.abort(code, message)
    raise AssertionError("unreachable")  # context.abort raises


def _json_request(
    context: grpc.ServicerContext, request: pb.JsonRequest,
    handlers: dict[str, Callable[[dict[str, Any]], Any]], what: str,
) -> tuple[Callable[[dict[str, Any]], Any], dict[str, Any]]:
    """The handler of a JSON RPC's ``kind`` and its request object, or the call aborted
    with INVALID_ARGUMENT naming what is wrong."""
    handler = handlers.get(request.kind)
    if handler is None:
        _abort(context, grpc.StatusCode.INVALID_ARGUMENT,
               f"unknown {what} request {request.kind!r}: use {', '.join(handlers)}")
    try:
        query = json.loads(request.json or b"{}")
        if not isinstance(query, dict):
            raise ValueError("expected a JSON object")
    except (ValueError, RecursionError) as exc:
        _abort(context, grpc.StatusCode.INVALID_ARGUMENT, f"bad {what} request: {exc}")
    return handler, query
