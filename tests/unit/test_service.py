"""The Service object: built from its collaborators, started on a temp socket, stopped in order."""

from __future__ import annotations

import json
import os
import queue
import threading
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from mytrack_common.address import GRPC_OPTIONS
from mytrack_proto import mytrack_pb2 as pb
from mytrack_proto import mytrack_pb2_grpc as pb_grpc
from mytrack_service.blobs.local import LocalBlobStore
from mytrack_service.service import Service
from mytrack_service.settings import ServiceSettings
from mytrack_service.store.base import RunKey
from mytrack_service.store.memory import MemoryStore

KEY = RunKey("alice", "proj", "abc12345")
WRITER = "0123456789abcdef"  # the SDK's form: 16 lowercase hex digits


class ClosingStore(MemoryStore):
    """A MemoryStore that notes what was still running when the service closed it."""

    def __init__(self) -> None:
        super().__init__()
        self.closed_while: dict[str, bool] | None = None
        self.service: Service | None = None

    def close(self) -> None:
        service = self.service
        assert service is not None
        self.closed_while = {
            "applier_running": service.applier._thread.is_alive(),
            "socket_present": os.path.exists(service.address.socket),
        }
        super().close()


def settings(home: Path) -> ServiceSettings:
    return ServiceSettings(
        home=str(home), store_uri="memory://", blobs_uri=f"file://{home / 'blobs'}",
        idle_timeout=600.0, max_workers=8, heartbeat_timeout=30.0, stats_interval=0.0,
        ui_port=0,
    )


@pytest.fixture
def started(tmp_path: Path) -> Iterator[tuple[Service, ClosingStore]]:
    store = ClosingStore()
    service = Service(settings(tmp_path / "home"), store, LocalBlobStore(str(tmp_path / "blobs")),
                      node_id="node-a")
    store.service = service
    service.start()
    try:
        yield service, store
    finally:
        if store.closed_while is None:  # the test failed before shutting down
            service.shutdown()


def stub(service: Service) -> tuple[grpc.Channel, pb_grpc.TrackerStub]:
    channel = grpc.insecure_channel(service.address.target, options=GRPC_OPTIONS)
    return channel, pb_grpc.TrackerStub(channel)


def record(seq: int, **kind: object) -> bytes:
    return pb.Record(seq=seq, **kind).SerializeToString()


def test_a_run_opened_through_a_real_client_is_applied_and_shutdown_goes_in_order(
        started: tuple[Service, ClosingStore]) -> None:
    """A Service on MemoryStore + LocalBlobStore answers OpenRun and a stream on its socket; the
    records it acked are in the store after Sync; shutdown applies, closes the store, then removes the socket."""
    service, store = started
    assert os.path.exists(service.address.socket)
    channel, tracker = stub(service)
    with channel:
        opened = tracker.OpenRun(pb.OpenRunRequest(
            run=pb.RunKey(entity=KEY.entity, project=KEY.project, run_id=KEY.run_id),
            writer_id=WRITER, name="wired-run", resume="allow", pid=os.getpid(), host="elsewhere",
            config_json=json.dumps({"lr": 0.1}).encode(),
        ), timeout=10)
        assert (opened.run.name, opened.resumed, opened.web_base) == ("wired-run", False, "")
        status = tracker.Status(pb.StatusRequest(), timeout=10)
        assert status.active_runs == 1 and status.pid == os.getpid()

        outgoing: queue.Queue[pb.ClientMessage | None] = queue.Queue()
        outgoing.put(pb.ClientMessage(hello=pb.Hello(writer_id=WRITER, run=opened.run.key)))
        outgoing.put(pb.ClientMessage(batch=pb.RecordBatch(first_seq=1, records=[
            record(1, summary=pb.SummaryUpdate(update_json=b'{"acc": 0.9}')),
            record(2, exit=pb.Exit(exit_code=0)),
        ])))
        replies = tracker.Stream(iter(outgoing.get, None), timeout=10)
        acks = [next(replies).ack.acked_seq, next(replies).ack.acked_seq]
        assert acks == [0, 2]  # the Hello's ack, then both records durable
        outgoing.put(None)
        synced = tracker.Sync(pb.SyncRequest(run=opened.run.key, writer_id=WRITER, last_seq=2, timeout=10),
                              timeout=15)
        assert not synced.timed_out
        assert synced.run.state == "finished"

    run = store.get_run(KEY)
    assert run is not None
    assert (run.state, run.summary.get("acc"), run.config) == ("finished", 0.9, {"lr": 0.1})
    assert service.live_runs.records_applied == 2

    stopper = threading.Thread(target=service.wait)
    stopper.start()
    service.request_stop()
    stopper.join(5)
    assert not stopper.is_alive()
    service.shutdown()
    # The store was closed after the applier stopped and before the socket went away.
    assert store.closed_while == {"applier_running": False, "socket_present": True}
    assert not os.path.exists(service.address.socket)


def test_the_shutdown_rpc_ends_wait(started: tuple[Service, ClosingStore]) -> None:
    """The Shutdown RPC asks the service to stop: wait() returns and shutdown() completes."""
    service, store = started
    done = threading.Event()
    waiter = threading.Thread(target=lambda: (service.wait(), done.set()))
    waiter.start()
    channel, tracker = stub(service)
    with channel:
        tracker.Shutdown(pb.ShutdownRequest(), timeout=10)
    assert done.wait(5)
    service.shutdown()
    assert store.closed_while is not None and not os.path.exists(service.address.socket)


def test_an_idle_service_stops_by_itself(tmp_path: Path) -> None:
    """With no open run for longer than idle_timeout, wait() returns without being asked."""
    now = [1000.0]
    config = ServiceSettings(**{**settings(tmp_path / "home").__dict__, "idle_timeout": 5.0})
    service = Service(config, MemoryStore(), LocalBlobStore(str(tmp_path / "blobs")),
                      clock=lambda: now[0], node_id="node-b")
    service.start()
    try:
        now[0] += 6.0  # the fake clock says the service has been idle past its timeout
        waiter = threading.Thread(target=service.wait)
        waiter.start()
        waiter.join(5)
        assert not waiter.is_alive()
    finally:
        service.shutdown()
