"""Bad input raises a clear error at the call site, and the run keeps working.

Each test logs good data, makes bad calls (checking the exception type and that
the message names the key or argument), logs again, and then checks the exact
history read back through the service: nothing before the bad call is lost,
nothing of the bad call is recorded, and no step is skipped.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest

import mytrack
from mytrack import errors

QUIET = mytrack.Settings(quiet=True)
META = ("_runtime", "_timestamp")


pytestmark = pytest.mark.usefixtures("no_current_run")


@pytest.fixture
def run(project: str) -> Iterator[mytrack.Run]:
    """A live run with one good row (step 0) already logged."""
    live = mytrack.init(project=project, settings=QUIET)
    live.log({"good": 0})
    yield live
    live.finish()


def history(run: mytrack.Run) -> list[dict[str, Any]]:
    rows = mytrack.Api().run(run.path).scan_history()
    return [{k: v for k, v in row.items() if k not in META} for row in rows]


def finish_and_check(run: mytrack.Run, count: int) -> None:
    """Finishes ``run`` and checks it holds exactly good=0..count-1 at steps 0..count-1."""
    run.finish()
    assert history(run) == [{"good": i, "_step": i} for i in range(count)]
    api_run = mytrack.Api().run(run.path)
    assert api_run.state == "finished"
    assert api_run.summary["good"] == count - 1


def expect(
    error: type[BaseException], *fragments: str
) -> Callable[[Callable[[], object]], BaseException]:
    """Runs a call that must raise ``error`` with every fragment in its message."""

    def check(call: Callable[[], object]) -> BaseException:
        with pytest.raises(error) as info:
            call()
        message = str(info.value)
        for fragment in fragments:
            assert fragment in message, f"{fragment!r} not in {message!r}"
        return info.value

    return check


def test_non_string_keys_raise_type_error_naming_the_key(run: mytrack.Run) -> None:
    """Non-string keys (int, tuple, None, bytes; also nested) raise InvalidTypeError naming the key."""
    expect(errors.InvalidTypeError, "int", "1")(lambda: run.log({1: 1.0}))
    run.log({"good": 1})
    expect(errors.InvalidTypeError, "tuple", "(1, 2)")(lambda: run.log({(1, 2): 1.0}))
    run.log({"good": 2})
    expect(TypeError, "None")(lambda: run.log({None: 1}))
    expect(TypeError, "bytes", "b'k'")(lambda: run.log({b"k": 1}))
    exc = expect(errors.InvalidTypeError, "7", "'outer'")(lambda: run.log({"good": 99, "outer": {7: 1}}))
    assert isinstance(exc, TypeError)
    run.log({"good": 3})
    finish_and_check(run, 4)


def test_empty_key_raises_value_error(run: mytrack.Run) -> None:
    """An empty key (top level or nested) raises InvalidKeyError, a ValueError."""
    exc = expect(errors.InvalidKeyError, "empty")(lambda: run.log({"": 1}))
    assert isinstance(exc, ValueError)
    run.log({"good": 1})
    expect(ValueError, "'outer'")(lambda: run.log({"good": 99, "outer": {"": 1}}))
    run.log({"good": 2})
    finish_and_check(run, 3)


@pytest.mark.parametrize("key", ["_step", "_runtime", "_timestamp", "_private", "_"])
def test_reserved_underscore_key_raises_value_error_naming_it(run: mytrack.Run, key: str) -> None:
    """A key starting with "_" is reserved: InvalidKeyError (ValueError) naming the key."""
    exc = expect(errors.InvalidKeyError, repr(key), "reserved")(lambda: run.log({key: 5}))
    assert isinstance(exc, ValueError)
    expect(ValueError, repr(key))(lambda: run.log({"good": 99, key: 5}, step=1))
    run.log({"good": 1})
    finish_and_check(run, 2)


def _a_function() -> None:
    """A value that cannot be logged."""


class Custom:
    """A value that cannot be logged."""


@pytest.mark.parametrize(
    ("data", "name", "type_name"),
    [
        ({"obj": object()}, "'obj'", "object"),
        ({"s": {1, 2}}, "'s'", "set"),
        ({"fn": _a_function}, "'fn'", "function"),
        ({"lam": lambda: None}, "'lam'", "function"),
        ({"c": 1 + 2j}, "'c'", "complex"),
        ({"raw": b"bytes"}, "'raw'", "bytes"),
        ({"custom": Custom()}, "'custom'", "Custom"),
        ({"outer": {"inner": object()}}, "'outer.inner'", "object"),
        ({"a": {"b": {"c": {1, 2}}}}, "'a.b.c'", "set"),
        ({"lst": [1, 2, object()]}, "'lst[2]'", "object"),
        ({"good": 99, "later": frozenset()}, "'later'", "frozenset"),
        ({"big": np.zeros(10_001)}, "'big'", "10001"),
        ({"cplx": np.array([1 + 1j])}, "'cplx'", "complex"),
    ],
)
def test_unsupported_value_raises_type_error_naming_key_and_type(
    run: mytrack.Run, data: dict[str, Any], name: str, type_name: str
) -> None:
    """An unsupported value raises InvalidTypeError (TypeError) naming the dotted key and the type."""
    exc = expect(errors.InvalidTypeError, name, type_name)(lambda: run.log(data))
    assert isinstance(exc, TypeError)
    # The same value with commit=False or step= is refused the same way.
    expect(TypeError, name)(lambda: run.log(data, commit=False))
    expect(TypeError, name)(lambda: run.log(data, step=1))
    run.log({"good": 1})
    finish_and_check(run, 2)


def test_data_that_is_not_a_dict_raises_type_error(run: mytrack.Run) -> None:
    """log() of something other than a dict raises InvalidTypeError naming the type."""
    expect(errors.InvalidTypeError, "list")(lambda: run.log([("good", 1)]))  # type: ignore[arg-type]
    expect(errors.InvalidTypeError, "str")(lambda: run.log("good"))  # type: ignore[arg-type]
    expect(errors.InvalidTypeError, "NoneType")(lambda: run.log(None))  # type: ignore[arg-type]
    run.log({"good": 1})
    finish_and_check(run, 2)


@pytest.mark.parametrize("step", [-1, -100, 1.5, "3", True, False, 2.0, [1]])
def test_step_not_a_non_negative_int_raises_value_error(run: mytrack.Run, step: Any) -> None:
    """step must be a non-negative int: -1, 1.5, "3", True, ... raise InvalidValueError naming step."""
    exc = expect(errors.InvalidValueError, "step", repr(step))(
        lambda: run.log({"good": 99}, step=step)
    )
    assert isinstance(exc, ValueError)
    run.log({"good": 1})
    finish_and_check(run, 2)


def test_numpy_integer_step_is_accepted(run: mytrack.Run) -> None:
    """A NumPy integer step is a valid step (the counterpart of the bad-step cases)."""
    run.log({"good": 1}, step=np.int64(1))
    run.log({"good": 2}, step=np.uint8(2), commit=True)
    run.log({"good": 3})
    finish_and_check(run, 4)


@pytest.mark.parametrize("commit", [1, 0, "yes", "False", 1.0, [True]])
def test_commit_not_bool_raises(run: mytrack.Run, commit: Any) -> None:
    """commit must be True, False or None: anything else raises an error naming commit."""
    exc = expect(errors.Error, "commit", repr(commit))(lambda: run.log({"good": 99}, commit=commit))
    assert isinstance(exc, (TypeError, ValueError))
    run.log({"good": 1})
    finish_and_check(run, 2)


def test_bad_call_records_nothing_and_skips_no_step(run: mytrack.Run) -> None:
    """A call refused for one bad value records none of its other keys and uses no step."""
    run.log({"good": 1}, commit=False)
    expect(TypeError, "'bad'")(lambda: run.log({"extra": 1, "bad": object()}, commit=False))
    expect(TypeError, "'bad'")(lambda: run.log({"extra": 2, "bad": object()}))
    expect(TypeError, "'bad'")(lambda: run.log({"extra": 3, "bad": object()}, step=1, commit=True))
    run.log({"more": 1})  # commits the pending row at step 1
    run.log({"good": 2})
    run.finish()
    assert history(run) == [
        {"good": 0, "_step": 0},
        {"good": 1, "more": 1, "_step": 1},
        {"good": 2, "_step": 2},
    ]


def test_log_before_init_raises_pre_init_error(run_script: Callable[..., Any]) -> None:
    """mytrack.log() before init() raises PreInitError (in a fresh process with no run)."""
    result = run_script(
        """
        import json, mytrack
        out = {"run_before": mytrack.run is None}
        try:
            mytrack.log({"a": 1})
        except mytrack.errors.PreInitError as exc:
            out["error"] = type(exc).__name__
            out["message"] = str(exc)
            out["is_usage_error"] = isinstance(exc, mytrack.errors.UsageError)
        out["run_after"] = mytrack.run is None
        print(json.dumps(out))
        """
    )
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert out["error"] == "PreInitError"
    assert out["is_usage_error"] is True
    assert "init()" in out["message"]
    assert out["run_before"] is True and out["run_after"] is True


def test_log_after_finish_raises_run_finished_error(project: str) -> None:
    """run.log() after finish() raises RunFinishedError; mytrack.log() then raises PreInitError."""
    run = mytrack.init(project=project, settings=QUIET)
    run.log({"good": 0})
    run.log({"good": 1})
    run.finish()
    expect(errors.RunFinishedError, "finished")(lambda: run.log({"good": 99}))
    expect(errors.RunFinishedError)(lambda: run.log({"good": 99}, step=5))
    expect(errors.PreInitError)(lambda: mytrack.log({"good": 99}))
    run.finish()  # a second finish() is a no-op
    assert history(run) == [{"good": 0, "_step": 0}, {"good": 1, "_step": 1}]
    assert mytrack.Api().run(run.path).state == "finished"


def test_unknown_mode_raises_value_error_naming_mode(run: mytrack.Run, project: str,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """init(mode="bogus") raises ValueError naming "mode" and leaves the current run alone."""
    exc = expect(errors.InvalidValueError, "mode", "bogus")(
        lambda: mytrack.init(project=project, mode="bogus", settings=QUIET)
    )
    assert isinstance(exc, ValueError)
    monkeypatch.setenv("MYTRACK_MODE", "nonsense")
    expect(ValueError, "MYTRACK_MODE", "nonsense")(lambda: mytrack.init(project=project, settings=QUIET))
    monkeypatch.delenv("MYTRACK_MODE")
    assert mytrack.run is run
    run.log({"good": 1})
    assert mytrack.Api().run(run.path).state == "running"
    finish_and_check(run, 2)


@pytest.mark.parametrize("bad_id", ["has/slash", "has space", "x" * 129, "ümlaut", "a:b"])
def test_invalid_id_raises_value_error_naming_the_id(project: str, bad_id: str) -> None:
    """init(id=<invalid>) raises InvalidValueError (a ValueError) naming the id, starting no run."""
    exc = expect(errors.InvalidValueError, "id", repr(bad_id))(
        lambda: mytrack.init(project=project, id=bad_id, settings=QUIET)
    )
    assert isinstance(exc, ValueError)
    assert mytrack.run is None
    assert mytrack.Api().runs(project) == []


@pytest.mark.parametrize("bad_id", ["has/slash", "x" * 129])
def test_invalid_id_leaves_the_current_run_working(
    run: mytrack.Run, project: str, bad_id: str
) -> None:
    """init(id=<invalid>) while a run is live raises and leaves that run current and running."""
    expect(errors.InvalidValueError, "id")(
        lambda: mytrack.init(project=project, id=bad_id, settings=QUIET)
    )
    assert mytrack.run is run
    run.log({"good": 1})
    assert mytrack.Api().run(run.path).state == "running"
    finish_and_check(run, 2)


def test_unknown_reinit_raises_value_error_naming_reinit(run: mytrack.Run, project: str) -> None:
    """init(reinit="bogus") raises ValueError naming reinit and leaves the current run alone."""
    expect(ValueError, "reinit", "bogus")(
        lambda: mytrack.init(project=project, reinit="bogus", settings=QUIET)
    )
    assert mytrack.run is run
    run.log({"good": 1})
    finish_and_check(run, 2)


def test_many_bad_calls_in_a_row_lose_nothing(run: mytrack.Run) -> None:
    """Interleaving every kind of bad call with good ones keeps the exact good history."""
    bad_calls: list[Callable[[], object]] = [
        lambda: run.log({1: 1}),
        lambda: run.log({"": 1}),
        lambda: run.log({"_x": 1}),
        lambda: run.log({"v": object()}),
        lambda: run.log({"good": 1}, step=-1),
        lambda: run.log({"good": 1}, step="3"),
        lambda: run.log({"good": 1}, commit="yes"),
    ]
    step = 1
    for _round in range(3):
        for bad in bad_calls:
            with pytest.raises(errors.Error):
                bad()
            run.log({"good": step})
            step += 1
    finish_and_check(run, step)
    assert re.fullmatch(r"[a-z0-9]{8}", run.id)


def test_exit_code_out_of_range_is_refused_at_the_call_site(project: str) -> None:
    """finish(exit_code=2**40) raises InvalidValueError naming exit_code and the run can still finish."""
    run = mytrack.init(project=project, settings=QUIET)
    run.log({"good": 0})
    try:
        expect(errors.InvalidValueError, "exit_code")(lambda: run.finish(exit_code=2**40))
        expect(errors.InvalidTypeError, "exit_code")(lambda: run.finish(exit_code="3"))  # type: ignore[arg-type]
        run.log({"good": 1})
        run.finish(exit_code=3)
        assert history(run) == [{"good": 0, "_step": 0}, {"good": 1, "_step": 1}]
        stored = mytrack.Api().run(run.path)
        assert (stored.state, stored.exit_code) == ("failed", 3)
    finally:
        run.finish()


_BIG_STEP_SCRIPT = """
import json, os, mytrack
run = mytrack.init(project="big-step", settings=mytrack.Settings(quiet=True))
run.log({"good": 0})
out = {}
try:
    run.log({"good": 99}, step=2**63)
except mytrack.errors.InvalidValueError as exc:
    out["error"] = str(exc)
print(json.dumps(out), flush=True)
if "error" not in out:
    os._exit(0)  # accepted: do not wait on a service that cannot store it
run.log({"good": 1})
run.finish()
rows = mytrack.Api().run(run.path).scan_history()
print(json.dumps([{k: v for k, v in r.items() if k in ("good", "_step")} for r in rows]))
"""


def _stop_private_service(home: str) -> None:
    status = subprocess.run(
        [sys.executable, "-m", "mytrack_service", "--home", home, "status", "--json"],
        capture_output=True, text=True, timeout=30, check=False,
    )
    lines = status.stdout.strip().splitlines()
    info = json.loads(lines[-1]) if lines else {}
    if not info.get("running"):
        return
    stopped = subprocess.run(
        [sys.executable, "-m", "mytrack_service", "--home", home, "stop", "--timeout", "10"],
        capture_output=True, text=True, timeout=30, check=False,
    )
    if stopped.returncode != 0:  # a service this test started, stuck: end it by its pid
        os.kill(int(info["pid"]), signal.SIGKILL)


def test_step_beyond_int64_is_refused_at_the_call_site(
    run_script: Callable[..., Any], tmp_path_factory: pytest.TempPathFactory
) -> None:
    """log(step=2**63) raises InvalidValueError naming step, and the run goes on (private service)."""
    home = str(tmp_path_factory.mktemp("big-step-home") / "home")
    try:
        result = run_script(_BIG_STEP_SCRIPT, env={"MYTRACK_DIR": home}, timeout=90)
    finally:
        _stop_private_service(home)
    lines = result.stdout.strip().splitlines()
    out = json.loads(lines[0])
    assert "step" in out.get("error", ""), out
    assert json.loads(lines[1]) == [{"good": 0, "_step": 0}, {"good": 1, "_step": 1}]
