"""Property-based fuzzing of every input surface: each input raises a mytrack
error at the call, or is accepted and reads back equal; the service survives.

Surfaces: ``log`` keys and values, config, summary, ``define_metric``,
``Settings``, ``init`` names and ids, ``save``/``restore`` globs, artifact
names, and read-API filters. One service serves the whole module (the
session's); one run collects the accepted log/config/summary examples, which
are read back after the examples (one read per surface, not one per example).
The last test checks that the service is alive and that a run written before
any fuzzing is intact. Examples are few and the deadline is off: the file runs
in well under a minute on a small machine.
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import mytrack
from mytrack import errors

QUIET = mytrack.Settings(quiet=True)
FUZZ = settings(
    max_examples=60, deadline=None, database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
FEW = settings(FUZZ, max_examples=15)
PROJECT = "fuzz-inputs"

# Text as users and attackers write it: any code point, surrogates included
# (hypothesis leaves those out by default), path and format characters.
SURROGATES = st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF)
ANY_CHAR = st.one_of(st.characters(), SURROGATES, st.sampled_from("/\\.:%#?*[]\x00\n"))
TEXT = st.text(ANY_CHAR, max_size=20)
SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**53), 2**53),
    st.floats(allow_nan=False), TEXT,
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(TEXT, inner, max_size=4)),
    max_leaves=8,
)
ODD_VALUES = st.one_of(
    VALUES, st.just(float("nan")), st.binary(max_size=8), st.sets(st.integers(), max_size=3),
    st.integers(), st.just(object()), st.complex_numbers(allow_nan=False),
)

# Accepted examples, read back by the checks at the end of the module.
_logged: list[tuple[int, str, Any]] = []
_config: dict[str, Any] = {}
_summary: dict[str, Any] = {}


@pytest.fixture(scope="module")
def earlier_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A finished run written before any fuzzing: it must be intact at the end."""
    folder = tmp_path_factory.mktemp("fuzz-earlier")
    run = mytrack.init(project=PROJECT, dir=str(folder), settings=QUIET)
    for step in range(5):
        run.log({"loss": 1.0 / (step + 1)})
    run.finish()
    yield run.path


@pytest.fixture(scope="module")
def run(earlier_run: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[mytrack.Run]:
    folder = tmp_path_factory.mktemp("fuzz-run")
    live = mytrack.init(project=PROJECT, dir=str(folder), settings=QUIET, reinit="create_new")
    yield live
    live.finish()


def _same(read: Any, written: Any) -> bool:
    """Equality as JSON keeps it: tuples are lists, -0.0 is 0, an int may come back as a float."""
    if isinstance(written, bool) or isinstance(read, bool):
        return read is written or (isinstance(read, bool) and read == written)
    if isinstance(written, (int, float)) and isinstance(read, (int, float)):
        return read == written or (math.isinf(written) and read == written)
    if isinstance(written, (list, tuple)):
        return isinstance(read, list) and len(read) == len(written) and all(map(_same, read, written))
    if isinstance(written, dict):
        return isinstance(read, dict) and read.keys() == written.keys() and all(
            _same(read[k], v) for k, v in written.items())
    return bool(read == written)


def _accepted(call: Any) -> bool:
    """Runs ``call``: True if accepted, False if refused with a mytrack error; anything else fails."""
    try:
        call()
    except errors.Error:
        return False
    return True


# -- log, config, summary --------------------------------------------------------------


@FUZZ
@given(key=TEXT, value=VALUES)
def test_log_key_and_value(run: mytrack.Run, key: str, value: Any) -> None:
    step = len(_logged) + 1000  # explicit steps: every accepted call is one row
    if _accepted(lambda: run.log({key: value}, step=step)):
        _logged.append((step, key, value))


@FUZZ
@given(data=st.one_of(st.dictionaries(TEXT, ODD_VALUES, max_size=3), ODD_VALUES))
def test_log_odd_values_and_non_dicts_raise_mytrack_errors_or_are_accepted(run: mytrack.Run, data: Any) -> None:
    step = len(_logged) + 1000
    if _accepted(lambda: run.log(data, step=step)):
        _logged.append((step, "", None))  # only that a row came (odd types are converted)


@FUZZ
@given(key=TEXT, value=VALUES)
def test_config_key_and_value(run: mytrack.Run, key: str, value: Any) -> None:
    if _accepted(lambda: run.config.update({key: value}, allow_val_change=True)):
        _config[key] = value


@FUZZ
@given(key=TEXT, value=VALUES)
def test_summary_key_and_value(run: mytrack.Run, key: str, value: Any) -> None:
    if _accepted(lambda: run.summary.update({key: value})):
        _summary[key] = value


@FEW
@given(name=TEXT, step_metric=st.one_of(st.none(), TEXT), summary=st.one_of(st.none(), TEXT),
       goal=st.one_of(st.none(), TEXT), hidden=st.one_of(st.none(), st.booleans(), TEXT))
def test_define_metric(run: mytrack.Run, name: str, step_metric: Any, summary: Any, goal: Any,
                       hidden: Any) -> None:
    _accepted(lambda: run.define_metric(name, step_metric=step_metric, summary=summary, goal=goal,
                                        hidden=hidden))


# -- settings, names, ids -------------------------------------------------------------------


SETTING_VALUES = st.one_of(TEXT, st.integers(), st.floats(), st.booleans(), st.none(),
                           st.lists(TEXT, max_size=2))


@FUZZ
@given(field=st.sampled_from(["entity", "project", "run_id", "run_name", "run_notes", "run_tags",
                              "run_group", "run_job_type", "mode", "resume", "finish_timeout",
                              "init_timeout", "max_buffer_bytes", "ui_port", "console",
                              "x_stats_sampling_interval", "x_label", "dir", "service_dir"]),
       value=SETTING_VALUES)
def test_settings(field: str, value: Any) -> None:
    def resolve() -> None:
        try:
            mytrack.Settings(**{field: value}).resolve()
        except TypeError as exc:  # a dataclass rejecting the keyword itself is not input checking
            raise AssertionError(f"Settings({field}=...) raised TypeError: {exc}") from exc

    _accepted(resolve)


@FEW
@given(project=TEXT, run_id=st.one_of(st.none(), TEXT), name=st.one_of(st.none(), TEXT))
@example(project="fuzz ü.v2", run_id="id.1-a_b", name="a name ü")
def test_init_names_and_ids_open_runs_that_read_back(
    project: str, run_id: str | None, name: str | None, tmp_path_factory: pytest.TempPathFactory,
) -> None:
    folder = tmp_path_factory.mktemp("fuzz-init")
    opened: list[mytrack.Run] = []

    def open_run() -> None:
        # resume="never": an id drawn twice (hypothesis repeats small examples) is a
        # ResumeError, not a second writer appending to the first example's run.
        opened.append(mytrack.init(project=project, id=run_id, name=name, dir=str(folder),
                                   settings=QUIET, reinit="create_new", resume="never"))

    if not _accepted(open_run):
        return
    live = opened[0]
    live.log({"x": 1})
    live.finish()
    read = mytrack.Api().run(live.path)
    assert (read.project, read.id) == (project, live.id)
    assert run_id is None or read.id == run_id
    assert read.name == name if name else read.name  # "" means "no name", as in W&B: one is made
    assert [row["x"] for row in read.scan_history()] == [1]


# -- files and artifacts ------------------------------------------------------------------------


@FEW
@given(glob=TEXT, base=st.one_of(st.none(), TEXT))
def test_save_glob_stays_inside_the_run(run: mytrack.Run, glob: str, base: str | None,
                                        tmp_path_factory: pytest.TempPathFactory) -> None:
    """save() with any glob: a mytrack error, or links only under the run's files folder."""
    folder = tmp_path_factory.mktemp("fuzz-save")
    (folder / "a.txt").write_text("a")
    cwd = os.getcwd()
    os.chdir(folder)
    try:
        saved: list[str] = []
        with warnings.catch_warnings():  # "matched no file" is the expected answer to most globs
            warnings.simplefilter("ignore", UserWarning)
            _accepted(lambda: saved.extend(run.save(glob, base_path=base, policy="now")))
    finally:
        os.chdir(cwd)
    files = os.path.realpath(os.path.join(run.dir))
    for path in saved:
        assert os.path.abspath(path).startswith(os.path.abspath(run.dir) + os.sep) or \
            os.path.realpath(path).startswith(files)


def test_save_of_a_file_whose_name_is_not_utf8_is_refused(run: mytrack.Run, tmp_path: Path) -> None:
    """os.listdir makes a surrogate of an undecodable byte; save() names the file instead of failing raw."""
    os.close(os.open(os.path.join(os.fsencode(tmp_path), b"\xff.txt"), os.O_CREAT | os.O_WRONLY, 0o600))
    with pytest.raises(errors.InvalidValueError, match="not valid UTF-8"):
        run.save(str(tmp_path / "*.txt"), base_path=str(tmp_path), policy="now")


@FEW
@given(name=TEXT)
def test_restore_name(run: mytrack.Run, name: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    """restore() of any name: a mytrack error (none was saved), and nothing written outside root."""
    root = tmp_path_factory.mktemp("fuzz-restore")
    _accepted(lambda: run.restore(name, root=str(root / "in")))
    assert {p.name for p in root.iterdir()} <= {"in"}


@FUZZ
@given(name=TEXT, kind=TEXT, entry=TEXT)
def test_artifact_names(name: str, kind: str, entry: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    """An artifact and entry name: a mytrack error, or an entry whose path stays relative."""
    source = tmp_path_factory.mktemp("fuzz-artifact") / "content.txt"
    source.write_text("content")
    made: list[mytrack.Artifact] = []
    if not _accepted(lambda: made.append(mytrack.Artifact(name, kind))):
        return
    added: list[Any] = []
    if _accepted(lambda: added.append(made[0].add_file(str(source), name=entry))):
        path = added[0].path
        assert path and not path.startswith("/") and ".." not in path.split("/")
        assert "\\" not in path and "\x00" not in path


@FEW
@given(name=TEXT, kind=TEXT, entry=TEXT, metadata=st.dictionaries(TEXT, SCALARS, max_size=2))
@example(name="data ü", kind="data-set", entry="dir/名前.txt", metadata={"k": "ü", "n": None})
def test_logged_artifact_reads_back(run: mytrack.Run, name: str, kind: str, entry: str,
                                    metadata: dict[str, Any],
                                    tmp_path_factory: pytest.TempPathFactory) -> None:
    """An artifact accepted at every call is stored, and reads back with its entry and metadata."""
    source = tmp_path_factory.mktemp("fuzz-logged") / "content.txt"
    source.write_text("content")
    made: list[Any] = []

    def log() -> None:
        artifact = mytrack.Artifact(name, kind, metadata=metadata)
        made.append(artifact.add_file(str(source), name=entry).path)
        run.log_artifact(artifact).wait()

    if not _accepted(log):
        return
    read = mytrack.Api().artifact(f"{run.entity}/{PROJECT}/{name}:latest")
    assert (read.name.split(":")[0], read.type) == (name, kind)
    assert [e.path for e in read.manifest] == made
    assert _same(read.metadata, metadata)


# -- read-API filters ------------------------------------------------------------------------------


FIELDS = st.sampled_from(["name", "state", "config.lr", "summary.loss", "tags", "id", "$and", "$or",
                          "$nor", "$not", "$regex", "display_name", "created_at"]) | TEXT
OPERATORS = st.sampled_from(["$eq", "$ne", "$gt", "$gte", "$lt", "$lte", "$in", "$nin", "$all",
                             "$exists", "$regex", "$not", "$bogus"])
FILTER_LEAVES = st.one_of(SCALARS, st.lists(SCALARS, max_size=3),
                          st.dictionaries(OPERATORS, SCALARS, min_size=1, max_size=2),
                          st.sampled_from([{"$regex": "(a+)+$"}, {"$regex": "(a)\\1"}, {"$regex": "["}]))
FILTERS = st.recursive(
    st.dictionaries(FIELDS, FILTER_LEAVES, max_size=3),
    lambda inner: st.dictionaries(st.sampled_from(["$and", "$or", "$nor", "$not"]) | FIELDS,
                                  st.one_of(inner, st.lists(inner, max_size=3)), max_size=2),
    max_leaves=6,
)


@FUZZ
@given(filters=st.one_of(FILTERS, st.lists(SCALARS, max_size=2), TEXT, st.integers()))
def test_read_api_filters(earlier_run: str, filters: Any) -> None:
    """Any filter: a mytrack error, or a list of runs of the project (all of them satisfy it)."""
    found: list[Any] = []
    if _accepted(lambda: found.extend(mytrack.Api().runs(PROJECT, filters=filters))):
        assert all(r.project == PROJECT for r in found)


# -- what was accepted reads back; the service and earlier data survived -----------------------------


def test_accepted_log_config_and_summary_read_back_equal(run: mytrack.Run) -> None:
    run.finish()
    read = mytrack.Api().run(run.path)
    rows = {row["_step"]: row for row in read.scan_history()}
    for step, key, value in _logged:
        assert step in rows, f"the accepted log() at step {step} is missing"
        if key and not isinstance(value, dict):
            assert _same(rows[step].get(key), value), (key, value, rows[step].get(key))
    for key, value in _config.items():
        assert _same(read.config.get(key), value), (key, value, read.config.get(key))
    for key, value in _summary.items():
        assert _same(read.summary.get(key), value), (key, value, read.summary.get(key))
    assert read.state == "finished"
    # Nothing accepted at a call (define_metric, save... included) was refused by the service.
    assert "quarantined_count" not in read.metadata, read.metadata.get("quarantined_records")


def test_service_alive_and_earlier_run_intact(earlier_run: str) -> None:
    status = mytrack.Api()._rpc().status()
    assert status.pid > 0
    read = mytrack.Api().run(earlier_run)
    assert read.state == "finished"
    assert [row["loss"] for row in read.scan_history()] == [1.0 / (s + 1) for s in range(5)]


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)

