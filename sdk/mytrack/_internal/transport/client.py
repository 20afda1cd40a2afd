"""The gRPC connection to the service, with errors translated at the edge."""

from __future__ import annotations

import os
from typing import Any

# Forked children (DataLoader workers) never use the parent's channel; gRPC's
# fork handlers would only print warnings about threads inside gRPC.
os.environ.setdefault("GRPC_ENABLE_FORK_SUPPORT", "false")

import grpc  # noqa: E402 - after the variable above

from mytrack.errors import CommError, InvalidValueError, ResumeError, RunNotFoundError
from mytrack_common.address import GRPC_OPTIONS, ServiceAddress
from mytrack_proto import mytrack_pb2 as pb
from mytrack_proto import mytrack_pb2_grpc as pb_grpc


class ServiceClient:
    """A channel and stub for one service address."""

    def __init__(self, address: ServiceAddress) -> None:
        self.address = address
        self._channel = grpc.insecure_channel(address.target, options=GRPC_OPTIONS)
        self.stub = pb_grpc.TrackerStub(self._channel)

    def call(self, method: str, request: Any, timeout: float | None = 30.0) -> Any:
        """Calls unary RPC ``method``; grpc errors come out as mytrack errors."""
        try:
            return getattr(self.stub, method)(request, timeout=timeout)
        except grpc.RpcError as exc:
            raise translate(exc, self.address) from None
        except ValueError as exc:  # "Cannot invoke RPC on closed channel!"
            raise CommError(f"the connection to the mytrack service is closed: {exc}") from None

    def stream(self, method: str, request: Any, timeout: float | None = None) -> Any:
        """Iterates a server-streaming RPC, translating errors."""
        try:
            yield from getattr(self.stub, method)(request, timeout=timeout)
        except grpc.RpcError as exc:
            raise translate(exc, self.address) from None

    def close(self) -> None:
        self._channel.close()


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
        client.stub.Status(pb.StatusRequest(quick=True), timeout=timeout)
        return client
    except grpc.RpcError:
        client.close()
        return None


def translate(exc: grpc.RpcError, address: ServiceAddress) -> Exception:
    code = exc.code() if hasattr(exc, "code") else None
    details = (exc.details() if hasattr(exc, "details") else None) or str(code)
    if code == grpc.StatusCode.NOT_FOUND:
        return RunNotFoundError(details)
    if code == grpc.StatusCode.INVALID_ARGUMENT:
        return InvalidValueError(details)
    if code in (grpc.StatusCode.FAILED_PRECONDITION, grpc.StatusCode.ALREADY_EXISTS):
        return ResumeError(details)
    if code == grpc.StatusCode.DEADLINE_EXCEEDED:
        return CommError(f"the mytrack service at {address.socket} did not answer in time")
    if code == grpc.StatusCode.UNAVAILABLE:
        return CommError(f"the mytrack service at {address.socket} is not reachable: {details}")
    return CommError(f"the mytrack service failed: {details} (see {address.log})")
