"""Unit tests for the service's step/commit assembly (mytrack_service.apply.assembly).

The assembly is fed decoded events directly, the way the applier feeds it
records read from a WAL; rows and run fields are compared exactly.
"""

from __future__ import annotations

import json
import math
import re
import struct
from collections.abc import Callable
from typing import Any

import pytest

from mytrack_service.apply.assembly import RunAssembly
from mytrack_service.apply.decode import (
    ConfigChange,
    Event,
    ExitEvent,
    LogCall,
    LogColumns,
    MetricDefinition,
    PreemptingEvent,
    RunFieldsChange,
    SummaryChange,
)
from mytrack_service.store.base import Batch, RunKey, RunRow
from mytrack_service.store.memory import MemoryStore

KEY = RunKey("ent", "proj", "abcd1234")
T0 = 1_700_000_000.0  # the run's start time


def _run_row(**fields: Any) -> RunRow:
    """A freshly created run, as the live_runs creates it."""
    fields.setdefault("created_at", T0)
    fields.setdefault("service_state", {"step": 0, "start_time": T0})
    return RunRow(key=KEY, **fields)


def _assembly(**fields: Any) -> RunAssembly:
    return RunAssembly(_run_row(**fields))


def log(data: dict[str, Any], step: int | None = None, commit: bool | None = None,
        t: float = 0.0) -> LogCall:
    """A decoded log() call made ``t`` seconds after the run started."""
    return LogCall(data, step, commit, T0 + t)


def exit_(code: int = 0, state: str = "", t: float = 100.0) -> ExitEvent:
    return ExitEvent(code, state, T0 + t)


def _feed(assembly: RunAssembly, events: list[Event]) -> None:
    for event in events:
        assembly.apply(event)


def _row(step: int, t: float, **values: Any) -> tuple[int, dict[str, Any]]:
    return step, {**values, "_step": step, "_runtime": t, "_timestamp": T0 + t}


# -- the three reference patterns --------------------------------------------


def _pattern_implicit() -> list[Event]:
    return [
        log({"train-loss": 0.5, "accuracy": 0.8}, t=1.0),
        log({"train-loss": 0.4, "accuracy": 0.9}, t=2.0),
    ]


def _pattern_commit_false() -> list[Event]:
    return [
        log({"train-loss": 0.5}, commit=False, t=0.5),
        log({"accuracy": 0.8}, t=1.0),
        log({"train-loss": 0.4}, commit=False, t=1.5),
        log({"accuracy": 0.9}, t=2.0),
    ]


def _pattern_explicit_step() -> list[Event]:
    return [
        log({"train-loss": 0.5}, step=0, t=0.5),
        log({"accuracy": 0.8}, step=0, t=1.0),
        log({"train-loss": 0.4}, step=1, t=1.5),
        log({"accuracy": 0.9}, step=1, t=2.0),
    ]


EXPECTED_PATTERN_ROWS = [
    _row(0, 1.0, **{"train-loss": 0.5, "accuracy": 0.8}),
    _row(1, 2.0, **{"train-loss": 0.4, "accuracy": 0.9}),
]


@pytest.mark.parametrize(
    "pattern", [_pattern_implicit, _pattern_commit_false, _pattern_explicit_step],
    ids=["implicit", "commit_false", "explicit_step"],
)
def test_reference_patterns_give_identical_rows(pattern: Callable[[], list[Event]]) -> None:
    """Each of the three equivalent patterns of run-api.md yields exactly the same two rows."""
    assembly = _assembly()
    _feed(assembly, [*pattern(), exit_(0, t=3.0)])
    out = assembly.take()
    assert out.rows == EXPECTED_PATTERN_ROWS
    assert out.warnings == []
    assert out.fields["last_step"] == 1
    assert out.fields["state"] == "finished"
    assert out.fields["exit_code"] == 0
    assert out.fields["runtime"] == 3.0
    assert out.fields["summary"] == {
        "train-loss": 0.4, "accuracy": 0.9, "_step": 1, "_runtime": 2.0, "_timestamp": T0 + 2.0,
    }


def test_explicit_step_row_waits_for_next_step_or_exit() -> None:
    """With step= and no commit, a row is committed only when a higher step (or the exit) arrives."""
    assembly = _assembly()
    _feed(assembly, [log({"a": 1}, step=0, t=1.0), log({"b": 2}, step=0, t=2.0)])
    out = assembly.take()
    assert out.rows == []
    assert assembly.pending == {"a": 1, "b": 2}
    assembly.apply(log({"a": 3}, step=1, t=3.0))
    assert assembly.take().rows == [_row(0, 2.0, a=1, b=2)]
    assembly.apply(exit_(0, t=4.0))
    assert assembly.take().rows == [_row(1, 3.0, a=3)]


# -- lower steps, step jumps ----------------------------------------------------


def test_lower_step_dropped_with_warning_naming_both_steps() -> None:
    """A step lower than the current one is dropped; the warning names it and the current step."""
    assembly = _assembly()
    _feed(assembly, [log({"a": 1}, step=5, commit=True, t=1.0)])
    assert assembly.step == 6
    assembly.apply(log({"a": 99, "b": 2}, step=3, t=2.0))
    out = assembly.take()
    assert out.rows == [_row(5, 1.0, a=1)]
    assert len(out.warnings) == 1
    warning = out.warnings[0]
    assert re.search(r"\bstep 3\b", warning), warning
    assert re.search(r"\bcurrent step 6\b", warning), warning
    assert assembly.step == 6
    assert assembly.pending is None
    assert assembly.summary["a"] == 1
    assert "b" not in assembly.summary


def test_lower_step_leaves_pending_row_untouched() -> None:
    """A dropped lower-step call does not touch the row pending at the current step."""
    assembly = _assembly()
    _feed(assembly, [
        log({"a": 1}, t=1.0),                 # step 0
        log({"b": 2}, step=4, t=2.0),          # pending at 4
        log({"b": 7, "c": 3}, step=2, t=3.0),  # dropped
        exit_(0, t=4.0),
    ])
    out = assembly.take()
    assert out.rows == [_row(0, 1.0, a=1), _row(4, 2.0, b=2)]
    assert [re.findall(r"step (\d+)", w) for w in out.warnings] == [["2", "4"]]


def test_same_step_after_commit_is_lower() -> None:
    """Logging again to a step that was already committed is dropped (the current step moved on)."""
    assembly = _assembly()
    _feed(assembly, [log({"a": 1}, step=0, commit=True, t=1.0), log({"a": 2}, step=0, t=2.0)])
    out = assembly.take()
    assert out.rows == [_row(0, 1.0, a=1)]
    assert len(out.warnings) == 1
    assert "step 0" in out.warnings[0] and "current step 1" in out.warnings[0]


def test_step_jump_makes_no_empty_rows() -> None:
    """Jumping from step 0 to step 10 makes rows only for the steps logged."""
    assembly = _assembly()
    _feed(assembly, [
        log({"a": 1}, t=1.0),              # step 0 committed
        log({"b": 2}, step=10, t=2.0),     # pending at 10
        log({"c": 3}, t=3.0),              # merged into 10 and committed
        log({"d": 4}, t=4.0),              # step 11
    ])
    out = assembly.take()
    assert out.rows == [_row(0, 1.0, a=1), _row(10, 3.0, b=2, c=3), _row(11, 4.0, d=4)]
    assert out.fields["last_step"] == 11
    assert assembly.step == 12


def test_step_jump_commits_pending_under_old_step() -> None:
    """A higher step commits the row pending at the current step under that step first."""
    assembly = _assembly()
    _feed(assembly, [
        log({"a": 1}, commit=False, t=1.0),
        log({"b": 2}, step=5, t=2.0),
        exit_(0, t=3.0),
    ])
    assert assembly.take().rows == [_row(0, 1.0, a=1), _row(5, 2.0, b=2)]


def test_explicit_step_with_commit_true_commits_at_once() -> None:
    """step=s with commit=True commits immediately and the current step becomes s+1."""
    assembly = _assembly()
    assembly.apply(log({"a": 1}, step=7, commit=True, t=1.0))
    out = assembly.take()
    assert out.rows == [_row(7, 1.0, a=1)]
    assert assembly.step == 8
    assert assembly.pending is None


# -- commit=False and merging -------------------------------------------------------


def test_commit_false_accumulates_and_later_values_win() -> None:
    """commit=False calls accumulate into one row; a key logged twice keeps the later value."""
    assembly = _assembly()
    _feed(assembly, [
        log({"a": 1, "b": 1}, commit=False, t=1.0),
        log({"b": 2}, commit=False, t=2.0),
        log({"c": 3}, commit=False, t=3.0),
    ])
    assert assembly.take().rows == []
    assembly.apply(log({"d": 4}, t=4.0))
    out = assembly.take()
    assert out.rows == [_row(0, 4.0, a=1, b=2, c=3, d=4)]
    assert assembly.step == 1


def test_commit_true_without_step_commits() -> None:
    """commit=True on its own commits the accumulated row."""
    assembly = _assembly()
    _feed(assembly, [log({"a": 1}, commit=False, t=1.0), log({"b": 2}, commit=True, t=2.0)])
    assert assembly.take().rows == [_row(0, 2.0, a=1, b=2)]


def test_nested_pending_dicts_merge_key_by_key() -> None:
    """Nested dicts of one step merge leaf by leaf; a scalar or a typed dict replaces."""
    assembly = _assembly()
    _feed(assembly, [
        log({"m": {"x": 1, "y": {"p": 1}}, "s": {"k": 1}, "img": {"_type": "image", "a": 1}},
            commit=False, t=1.0),
        log({"m": {"y": {"q": 2}, "z": 3}, "s": 5, "img": {"_type": "image", "b": 2}}, t=2.0),
    ])
    out = assembly.take()
    assert out.rows == [
        _row(0, 2.0, m={"x": 1, "y": {"p": 1, "q": 2}, "z": 3}, s=5,
             img={"_type": "image", "b": 2}),
    ]


def test_exit_commits_pending_row() -> None:
    """The exit record commits the pending row, timestamped by its last log call."""
    assembly = _assembly()
    _feed(assembly, [log({"a": 1}, commit=False, t=1.0), log({"b": 2}, commit=False, t=2.0)])
    assembly.apply(exit_(0, t=9.0))
    out = assembly.take()
    assert out.rows == [_row(0, 2.0, a=1, b=2)]
    assert out.fields["last_step"] == 0
    assert out.fields["runtime"] == 9.0
    assert out.fields["updated_at"] == T0 + 9.0


def test_exit_without_pending_adds_no_row() -> None:
    """An exit with nothing pending adds no row and keeps last_step."""
    assembly = _assembly()
    _feed(assembly, [log({"a": 1}, t=1.0)])
    assembly.take()
    assembly.apply(exit_(0, t=2.0))
    out = assembly.take()
    assert out.rows == []
    assert "last_step" not in out.fields
    assert assembly.last_step == 0
    assert out.fields["state"] == "finished"


# -- states ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "state", "expected"),
    [
        (0, "", "finished"),
        (1, "", "failed"),
        (2, "", "failed"),
        (137, "", "failed"),
        (-15, "", "failed"),
        (1, "failed", "failed"),
        (255, "killed", "killed"),
        (0, "killed", "killed"),
    ],
)
def test_exit_code_to_state(code: int, state: str, expected: str) -> None:
    """Exit code 0 is finished, non-zero failed; an explicit state is kept."""
    assembly = _assembly()
    assembly.apply(exit_(code, state, t=5.0))
    out = assembly.take()
    assert out.fields["state"] == expected
    assert out.fields["exit_code"] == code
    assert out.fields["runtime"] == 5.0


@pytest.mark.parametrize(
    ("code", "state", "expected"),
    [(1, "", "preempted"), (143, "killed", "preempted"), (0, "", "finished")],
)
def test_preempting_then_exit(code: int, state: str, expected: str) -> None:
    """A preempting run that ends with a non-zero exit is preempted; exit 0 still finishes it."""
    assembly = _assembly()
    _feed(assembly, [log({"a": 1}, t=1.0), PreemptingEvent(T0 + 2.0)])
    assert assembly.take().fields["state"] == "preempting"
    assembly.apply(exit_(code, state, t=3.0))
    assert assembly.take().fields["state"] == expected


def test_preempting_survives_restore() -> None:
    """The preempting mark is part of the snapshot, so a restored assembly still reports preempted."""
    first = _assembly()
    first.apply(PreemptingEvent(T0 + 1.0))
    restored = RunAssembly(_run_row(service_state=json.loads(json.dumps(first.snapshot()))))
    restored.apply(exit_(1, t=2.0))
    assert restored.take().fields["state"] == "preempted"


# -- summary and config ---------------------------------------------------------------


def test_summary_holds_last_values() -> None:
    """The summary keeps the last logged value of every key, plus the last _step/_runtime/_timestamp."""
    assembly = _assembly(summary={"old": "kept"})
    _feed(assembly, [
        log({"loss": 0.9, "acc": 0.1}, t=1.0),
        log({"loss": 0.5}, t=2.0),
        log({"nested": {"x": 1}}, t=3.0),
    ])
    out = assembly.take()
    assert out.fields["summary"] == {
        "old": "kept", "loss": 0.5, "acc": 0.1, "nested": {"x": 1},
        "_step": 2, "_runtime": 3.0, "_timestamp": T0 + 3.0,
    }


def test_user_summary_wins_until_key_logged_again() -> None:
    """A SummaryChange overrides a key until that key is logged again; removed keys disappear."""
    assembly = _assembly()
    assembly.apply(log({"acc": 0.5, "loss": 1.0, "tmp": 3}, t=1.0))
    assembly.apply(SummaryChange({"acc": 0.99, "best": 7}, ["tmp"]))
    out = assembly.take()
    assert out.rows == [_row(0, 1.0, acc=0.5, loss=1.0, tmp=3)]
    assert out.fields["summary"] == {
        "acc": 0.99, "loss": 1.0, "best": 7, "_step": 0, "_runtime": 1.0, "_timestamp": T0 + 1.0,
    }
    assembly.apply(log({"loss": 0.8}, t=2.0))
    assert assembly.take().fields["summary"]["acc"] == 0.99
    assembly.apply(log({"acc": 0.6}, t=3.0))
    summary = assembly.take().fields["summary"]
    assert summary["acc"] == 0.6
    assert summary["best"] == 7
    assert summary["loss"] == 0.8
    assert "tmp" not in summary


def test_summary_keeps_nan_and_inf() -> None:
    """Non-finite floats go into rows and the summary unchanged."""
    assembly = _assembly()
    assembly.apply(log({"n": math.nan, "p": math.inf, "m": -math.inf}, t=1.0))
    out = assembly.take()
    row = out.rows[0][1]
    assert math.isnan(row["n"]) and row["p"] == math.inf and row["m"] == -math.inf
    summary = out.fields["summary"]
    assert math.isnan(summary["n"]) and summary["p"] == math.inf and summary["m"] == -math.inf


def test_config_changes() -> None:
    """ConfigChange merges updates and removes keys; the run row's config is not mutated."""
    initial = {"lr": 0.1, "model": {"depth": 3}, "gone": 1}
    run = _run_row(config=initial)
    assembly = RunAssembly(run)
    assembly.apply(ConfigChange({"lr": 0.2, "bs": 32}, ["gone", "missing"]))
    out = assembly.take()
    assert out.fields["config"] == {"lr": 0.2, "model": {"depth": 3}, "bs": 32}
    assert out.rows == []
    assert run.config == {"lr": 0.1, "model": {"depth": 3}, "gone": 1}
    assembly.apply(ConfigChange({}, ["model"]))
    assert assembly.take().fields["config"] == {"lr": 0.2, "bs": 32}


def test_run_fields_and_metric_definitions() -> None:
    """RunFieldsChange passes fields through; MetricDefinition is kept in the snapshot."""
    assembly = _assembly()
    assembly.apply(RunFieldsChange({"name": "new-name", "tags": ["a", "b"]}))
    assembly.apply(MetricDefinition({"name": "loss", "summary": "min"}))
    out = assembly.take()
    assert out.fields["name"] == "new-name"
    assert out.fields["tags"] == ["a", "b"]
    assert out.fields["service_state"]["metrics"] == [{"name": "loss", "summary": "min"}]


def test_runtime_continues_after_restart() -> None:
    """After restart() (a resume), _runtime counts on from the previous total."""
    assembly = _assembly()
    _feed(assembly, [log({"a": 1}, t=10.0), exit_(0, t=12.0)])
    assembly.take()
    assert assembly.runtime == 12.0
    assembly.restart(T0 + 1000.0)
    assembly.apply(log({"a": 2}, t=1003.0))
    out = assembly.take()
    assert out.rows == [(1, {"a": 2, "_step": 1, "_runtime": 15.0, "_timestamp": T0 + 1003.0})]
    assert out.fields["runtime"] == 15.0


def test_new_assembly_from_existing_run_without_state() -> None:
    """Without a service_state, the step continues after last_step and the clock from created_at."""
    assembly = RunAssembly(RunRow(key=KEY, created_at=T0, last_step=41, runtime=5.0))
    assembly.apply(log({"a": 1}, t=2.0))
    assert assembly.take().rows == [_row(42, 2.0, a=1)]


# -- snapshot / restore ---------------------------------------------------------------


def _script() -> list[Event]:
    """A run touching every rule; fresh objects each call (the assembly owns what it is fed)."""
    return [
        ConfigChange({"lr": 0.1}, []),
        log({"a": 1, "n": {"x": 1}}, t=1.0),
        log({"b": 2}, commit=False, t=2.0),
        log({"n": {"y": 2}}, commit=False, t=2.5),
        log({"c": 3}, t=3.0),
        MetricDefinition({"name": "a", "summary": "max"}),
        log({"d": 4}, step=5, t=4.0),
        log({"e": 5}, step=5, t=5.0),
        log({"late": 0}, step=1, t=5.5),
        SummaryChange({"a": 100}, []),
        log({"f": 6}, step=8, t=6.0),
        log({"g": math.inf}, commit=False, t=7.0),
        PreemptingEvent(T0 + 7.5),
        log({"h": 8}, commit=False, t=8.0),
        ConfigChange({"bs": 4}, ["lr"]),
        exit_(1, t=9.0),
    ]


def _json(value: Any) -> Any:
    return json.loads(json.dumps(value))


def _final(assembly: RunAssembly) -> dict[str, Any]:
    return _json({
        "step": assembly.step, "last_step": assembly.last_step, "runtime": assembly.runtime,
        "summary": assembly.summary, "config": assembly.config, "snapshot": assembly.snapshot(),
    })


def _reference() -> tuple[list[Any], list[str], dict[str, Any], dict[str, Any]]:
    assembly = _assembly()
    _feed(assembly, _script())
    out = assembly.take()
    return _json(out.rows), out.warnings, _json(out.fields), _final(assembly)


def test_script_reference_rows() -> None:
    """The replay script itself yields the rows the rules prescribe."""
    rows, warnings, fields, _ = _reference()
    assert rows == _json([
        _row(0, 1.0, a=1, n={"x": 1}),
        _row(1, 3.0, b=2, n={"y": 2}, c=3),
        _row(5, 5.0, d=4, e=5),
        _row(8, 8.0, f=6, g=math.inf, h=8),
    ])
    assert len(warnings) == 1 and "step 1" in warnings[0] and "current step 5" in warnings[0]
    assert fields["state"] == "preempted"
    assert fields["config"] == {"bs": 4}
    assert fields["summary"]["a"] == 100
    assert fields["summary"]["h"] == 8


@pytest.mark.parametrize("cut", range(len(_script()) + 1))
def test_restore_from_snapshot_continues_identically(cut: int) -> None:
    """A new RunAssembly built from a RunRow holding snapshot() continues exactly like the original."""
    ref_rows, ref_warnings, ref_fields, ref_final = _reference()
    events = _script()
    first = _assembly()
    _feed(first, events[:cut])
    first_out = first.take()
    row = _run_row(
        last_step=first.last_step, runtime=first.runtime,
        summary=_json(first.summary), config=_json(first.config),
        service_state=_json(first.snapshot()),
    )
    second = RunAssembly(row)
    _feed(second, events[cut:])
    second_out = second.take()
    assert _json(first_out.rows + second_out.rows) == ref_rows
    assert first_out.warnings + second_out.warnings == ref_warnings
    assert _final(second) == ref_final
    for name in ("state", "exit_code", "config", "summary", "last_step", "runtime"):
        assert _json(second_out.fields.get(name, first_out.fields.get(name))) == ref_fields[name]


def _replay_through_store(cut: int) -> tuple[list[Any], dict[str, Any]]:
    """Applies the script one event per committed batch, as the applier does, restoring at ``cut``."""
    store = MemoryStore()
    store.create_run(_run_row())
    events = _script()
    assembly = RunAssembly(store.get_run(KEY))  # type: ignore[arg-type]
    rows: list[Any] = []
    for index, event in enumerate(events):
        if index == cut:  # the service restarts: state comes back from the store only
            assembly = RunAssembly(store.get_run(KEY))  # type: ignore[arg-type]
        assembly.apply(event)
        out = assembly.take()
        store.write_batch(Batch(KEY, out.rows, out.fields, []))
        rows.extend(out.rows)
    return _json(rows), _final(assembly)


def test_pending_only_batch_saves_state() -> None:
    """A batch holding only a commit=False call still hands the store the snapshot with the pending row."""
    assembly = _assembly()
    assembly.apply(log({"a": 1}, commit=False, t=1.0))
    out = assembly.take()
    assert "service_state" in out.fields
    assert out.fields["service_state"]["pending"] == {"a": 1}
    assert out.fields["service_state"]["step"] == 0


@pytest.mark.parametrize("cut", range(1, len(_script())))
def test_restore_from_committed_batches_continues_identically(cut: int) -> None:
    """What take() hands to the store after any record is enough to resume exactly after it."""
    ref_rows, _, _, ref_final = _reference()
    rows, final = _replay_through_store(cut)
    assert rows == ref_rows
    assert final == ref_final


# -- columnar batches (LogColumns): the same result as call by call -------------------------


def _columns(keys: tuple[str, ...], rows: list[list[float]], t0: float) -> LogColumns:
    values = struct.pack(f"<{len(keys) * len(rows)}d", *(v for row in rows for v in row))
    return LogColumns(keys, values, [T0 + t0 + i * 0.25 for i in range(len(rows))])


def _outcome(events: list[Event], **fields: Any) -> tuple[Any, ...]:
    """Rows, fields and snapshot after ``events``, blocks expanded to rows."""
    assembly = _assembly(**fields)
    _feed(assembly, events)
    out = assembly.take()
    rows = sorted([*out.rows, *(row for block in out.blocks for row in block.rows())],
                  key=lambda item: item[0])
    return _json(rows), _json(out.fields), _json(assembly.snapshot()), len(out.blocks)


def _as_calls(events: list[Event]) -> list[Event]:
    return [c for e in events for c in (e.calls() if isinstance(e, LogColumns) else [e])]


@pytest.mark.parametrize("case", ["plain", "pending_row", "define_metric", "underscore_key",
                                  "after_explicit_step", "nan_and_negative_zero"])
def test_columnar_batches_assemble_like_their_calls(case: str) -> None:
    keys = ("loss", "acc")
    rows = [[1.0 / (i + 1), i / 10] for i in range(7)]
    events: list[Event] = []
    if case == "pending_row":
        events.append(log({"extra": 1}, commit=False, t=0.1))
    if case == "define_metric":
        events.append(MetricDefinition({"name": "loss", "summary": "min"}))
    if case == "underscore_key":
        keys = ("loss", "_runtime")
    if case == "after_explicit_step":
        events.append(log({"x": 1}, step=40, commit=True, t=0.05))
    if case == "nan_and_negative_zero":
        rows[3] = [math.nan, -0.0]
    events += [_columns(keys, rows[:4], 1.0), _columns(keys, rows[4:], 2.0), exit_(t=5.0)]
    fast = _outcome(events)
    slow = _outcome(_as_calls(events))
    assert fast[:3] == slow[:3]
    # After a pending row, only the first batch must go call by call.
    expect_blocks = {"define_metric": 0, "underscore_key": 0, "pending_row": 1}.get(case, 2)
    assert fast[3] == expect_blocks
    assert slow[3] == 0


def test_columnar_batch_resumed_run_continues_steps_and_runtime() -> None:
    state = {"step": 10, "start_time": T0 + 50, "runtime_offset": 7.5}
    fast = _outcome([_columns(("a",), [[1.0], [2.0]], 60.0)], service_state=state, last_step=9)
    slow = _outcome(_as_calls([_columns(("a",), [[1.0], [2.0]], 60.0)]), service_state=state,
                    last_step=9)
    assert fast[:3] == slow[:3]
    assert [row[0] for row in fast[0]] == [10, 11]


def test_shared_writers_rows_of_one_step_merge_within_a_batch() -> None:
    """Two writers of a shared run, thousands of steps in one batch: one row per step holding both writers' keys, the
    same key at the same step counted as a conflict, the later value winning."""
    assembly = _assembly(service_state={"step": 0, "start_time": T0, "shared": True})
    steps = 5_000
    for writer, key in (("w1", "a"), ("w2", "b")):
        assembly.select(writer)
        for i in range(steps):
            assembly.apply(log({key: i, "both": f"{writer}-{i}"} if i == 7 else {key: i}, t=i))
    out = assembly.take()
    assert out.merge_rows
    assert [step for step, _ in out.rows] == list(range(steps))
    assert {k: out.rows[7][1][k] for k in ("a", "b", "both")} == {"a": 7, "b": 7, "both": "w2-7"}
    assert all(row["a"] == row["b"] == step for step, row in out.rows)
    assert out.conflicts == 1
