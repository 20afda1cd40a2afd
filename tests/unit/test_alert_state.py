"""Alerts in the service: record decoding, the per-title rate limit in the run's assembly, the webhook body."""

from __future__ import annotations

from typing import Any

from mytrack._internal.transport import encode
from mytrack_service.apply.assembly import MAX_ALERTS, RunAssembly
from mytrack_service.apply.decode import AlertEvent, FilesEvent, SavedFile, decode
from mytrack_service.outbound.alerts import payload, redact
from mytrack_service.store.base import RunKey, RunRow

KEY = RunKey("ent", "proj", "abcd1234")
T0 = 1_700_000_000.0


def _assembly(state: dict[str, Any] | None = None, metadata: dict[str, Any] | None = None) -> RunAssembly:
    return RunAssembly(RunRow(key=KEY, created_at=T0, metadata=metadata or {},
                              service_state=state or {"step": 0, "start_time": T0}))


def _alert(title: str, t: float, wait: float = 60.0, text: str = "x") -> AlertEvent:
    return AlertEvent(title, text, "WARN", wait, T0 + t)


def test_alert_record_round_trip() -> None:
    """encode.alert_record decodes into the same AlertEvent."""
    payload_bytes = encode.alert_record("t", "body", "ERROR", 2.5, T0).build(9)
    assert decode(payload_bytes) == (9, [AlertEvent("t", "body", "ERROR", 2.5, T0)])


def test_rate_limit_per_title_by_alert_timestamps() -> None:
    """Within wait_duration of the last sent alert of a title, another is counted as suppressed, not stored."""
    assembly = _assembly()
    for event in (_alert("a", 0, text="1"), _alert("a", 30, text="2"), _alert("b", 31, text="3"),
                  _alert("a", 61, text="4"), _alert("a", 62, wait=0, text="5")):
        assembly.apply(event)
    out = assembly.take()
    assert [a["text"] for a in out.alerts] == ["1", "3", "4", "5"]
    assert out.alerts[0] == {"title": "a", "text": "1", "level": "WARN", "wait_duration": 60.0,
                             "timestamp": T0, "run": "ent/proj/abcd1234"}
    metadata = out.fields["metadata"]
    assert [a["text"] for a in metadata["alerts"]] == ["1", "3", "4", "5"]
    assert "run" not in metadata["alerts"][0]
    assert metadata["alerts_suppressed"] == 1
    assert out.fields["service_state"]["alert_sent"] == {"a": T0 + 62, "b": T0 + 31}


def test_rate_limit_survives_a_reload_from_the_snapshot() -> None:
    """A new assembly built from the stored snapshot (restart, another writer) keeps the last-sent times."""
    first = _assembly()
    first.apply(_alert("a", 0))
    out = first.take()
    again = _assembly(state=out.fields["service_state"], metadata=out.fields["metadata"])
    again.apply(_alert("a", 10, text="late"))
    again.apply(_alert("c", 10, text="new"))
    later = again.take()
    assert [a["text"] for a in later.alerts] == ["new"]
    assert [a["text"] for a in later.fields["metadata"]["alerts"]] == ["x", "new"]


def test_stored_alerts_are_capped() -> None:
    """Only the last MAX_ALERTS alerts stay in the run's metadata."""
    assembly = _assembly()
    for i in range(MAX_ALERTS + 3):
        assembly.apply(_alert(f"t{i}", i, text=str(i)))
    alerts = assembly.take().fields["metadata"]["alerts"]
    assert len(alerts) == MAX_ALERTS and alerts[0]["text"] == "3"


def test_now_files_are_uploaded_without_growing_the_snapshot() -> None:
    """Files with policy "now" (media) become pending uploads but are not kept in the snapshot's file list."""
    assembly = _assembly()
    assembly.apply(FilesEvent([SavedFile("media/images/a.png", "/r/files/media/images/a.png", "now"),
                               SavedFile("model.pt", "/r/files/model.pt", "live")]))
    out = assembly.take()
    assert [(f.name, f.policy, f.pending) for f in out.files] == [
        ("media/images/a.png", "now", True), ("model.pt", "live", True)]
    assert out.fields["service_state"]["files"] == {"model.pt": {"path": "/r/files/model.pt", "policy": "live"}}


def test_webhook_body_is_slack_compatible_and_url_redacted() -> None:
    """The POST body has Slack's text and one attachment; logs show the webhook's host, not its secret path."""
    body = payload({"title": "T", "text": "B", "level": "ERROR", "timestamp": T0 + 0.7, "run": "e/p/r"})
    assert body == {
        "text": "*[ERROR] T*\nB\nRun: e/p/r",
        "attachments": [{"color": "#a30200", "title": "T", "text": "B", "ts": int(T0),
                         "fields": [{"title": "Level", "value": "ERROR", "short": True},
                                    {"title": "Run", "value": "e/p/r", "short": True}]}],
    }
    assert redact("https://hooks.slack.com/services/T000/B000/XXXX") == "https://hooks.slack.com/..."
