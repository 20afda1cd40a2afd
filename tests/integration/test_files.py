"""``run.save()`` / ``restore()`` / run files on the read side, against the real service.

Everything runs in-process against the session's service (real socket, real
SQLite, real blob folder, the real watchdog watcher). Each test works in its
own workdir (the current directory) and project. Live-file tests pace their
writes with `write_until_uploaded`: the file is rewritten at most every 0.7 s
(longer than the service's 0.5 s debounce) until the service reports the new
digest through `Api`, so no test depends on how fast the watcher sees a change.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import pytest

import mytrack
from mytrack import cli, errors
from mytrack._internal.lifecycle import environment
from tests.helpers import sha, wait_for

QUIET = mytrack.Settings(quiet=True)
# Written and saved by every run on its own (environment metadata); not what these tests save.
AUTO_FILES = {"requirements.txt", "diff.patch"}


pytestmark = pytest.mark.usefixtures("no_current_run")


# -- helpers ------------------------------------------------------------------------------


def start(project: str) -> Any:
    return mytrack.init(project=project, settings=QUIET)


def files_of(run_path: str) -> dict[str, Any]:
    """The run's files as the read API lists them, by name (without AUTO_FILES)."""
    return {f.name: f for f in mytrack.Api().run(run_path).files() if f.name not in AUTO_FILES}


def wait_names(run_path: str, names: set[str]) -> dict[str, Any]:
    """Waits until the run's file index holds exactly ``names``."""
    found: dict[str, Any] = {}

    def check() -> bool:
        found.clear()
        found.update(files_of(run_path))
        return set(found) == names

    wait_for(check, timeout=20, message=f"the run's files to be {sorted(names)}")
    return found


def wait_digest(run_path: str, name: str, data: bytes, timeout: float = 20) -> Any:
    """Waits until ``name`` is uploaded with exactly ``data``; returns its ApiFile."""
    return wait_for(lambda: (f := files_of(run_path).get(name)) is not None
                    and f.digest == sha(data) and f,
                    timeout=timeout, message=f"{name} uploaded as {data[:30]!r}")


def overwrite(path: Path, data: bytes) -> None:
    """Writes ``data`` over the start of the file in one write, without truncating first.

    The contents used by the live tests all have the same length, so a reader
    never sees an empty or half-written version.
    """
    with open(path, "r+b") as handle:
        handle.write(data)


def write_until_uploaded(run_path: str, path: Path, name: str, data: bytes,
                         timeout: float = 20) -> Any:
    """Writes ``data`` (again after every 0.7 s pause) until the service has uploaded it."""
    last_write = [0.0]

    def step() -> Any:
        if time.monotonic() - last_write[0] >= 0.7:  # a pause longer than the debounce
            overwrite(path, data)
            last_write[0] = time.monotonic()
        found = files_of(run_path).get(name)
        return found if found is not None and found.digest == sha(data) else None

    return wait_for(step, timeout=timeout, interval=0.05,
                    message=f"{name} uploaded as {data!r} while the run is live")


def make(root: Path, relative: str, data: bytes | None = None) -> Path:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(relative.encode() if data is None else data)
    return path


# -- layout: every example of the reference ---------------------------------------------------

# (files created, glob, base_path, names in the run). "{abs}" is an absolute folder
# outside the current directory; "{cwd}" is the current directory.
LAYOUTS = {
    "relative-glob-keeps-its-path": (
        ["these/are/myfiles/a.txt", "these/are/myfiles/b.txt", "these/other.txt"],
        "these/are/myfiles/*", None,
        ["these/are/myfiles/a.txt", "these/are/myfiles/b.txt"]),
    "base-path-keeps-the-structure-below-it": (
        ["these/are/myfiles/a.txt", "these/are/myfiles/b.txt"],
        "these/are/myfiles/*", "these",
        ["are/myfiles/a.txt", "are/myfiles/b.txt"]),
    "absolute-glob-keeps-one-parent-folder": (
        ["{abs}/User/u/Documents/run123/x.txt", "{abs}/User/u/Documents/run123/y.txt",
         "{abs}/User/u/Documents/run123/z.log"],
        "{abs}/User/u/Documents/run123/*.txt", None,
        ["run123/x.txt", "run123/y.txt"]),
    "absolute-glob-with-base-path": (
        ["{abs}/User/u/Documents/run123/x.txt", "{abs}/User/u/Documents/run123/y.txt"],
        "{abs}/User/u/Documents/run123/*.txt", "{abs}/User",
        ["u/Documents/run123/x.txt", "u/Documents/run123/y.txt"]),
    "star-folder-keeps-the-matching-sub-folders": (
        ["files/a/saveme.txt", "files/b/saveme.txt", "files/c/other.txt", "files/saveme.txt"],
        "files/*/saveme.txt", None,
        ["files/a/saveme.txt", "files/b/saveme.txt"]),
    "double-star-recurses": (
        ["logs/top.txt", "logs/d1/x.txt", "logs/d1/d2/y.txt", "logs/d1/skip.bin"],
        "logs/**/*.txt", None,
        ["logs/d1/d2/y.txt", "logs/d1/x.txt", "logs/top.txt"]),
    "absolute-double-star-with-base-path": (
        ["{abs}/ckpt/e1/m.pt", "{abs}/ckpt/e1/sub/n.pt", "{abs}/ckpt/readme.md"],
        "{abs}/ckpt/**/*.pt", "{abs}",
        ["ckpt/e1/m.pt", "ckpt/e1/sub/n.pt"]),
    "absolute-path-inside-cwd-without-base-keeps-one-parent": (
        ["{cwd}/out/deep/model.bin"],
        "{cwd}/out/deep/model.bin", None,
        ["deep/model.bin"]),
}


@pytest.mark.parametrize("case", list(LAYOUTS), ids=list(LAYOUTS))
def test_save_layout_matches_the_reference(case: str, project: str, workdir: Path,
                                           tmp_path_factory: pytest.TempPathFactory) -> None:
    """save() names each file as the reference's examples say, returns symlinks in run.dir to the originals, and indexes
    those names."""
    created, glob_str, base_path, expected = LAYOUTS[case]
    outside = tmp_path_factory.mktemp("abs")

    def fill(text: str) -> str:
        return text.replace("{abs}", str(outside)).replace("{cwd}", str(workdir))

    sources = {}
    for item in created:
        path = Path(fill(item))
        path = path if path.is_absolute() else workdir / path
        make(path.parent, path.name)
        sources[path] = path
    run = start(project)
    links = run.save(fill(glob_str), base_path=fill(base_path) if base_path else None,
                     policy="end")
    assert sorted(links) == [os.path.join(run.dir, *name.split("/")) for name in expected]
    for link, name in zip(sorted(links), expected, strict=True):
        assert os.path.islink(link), link
        original = Path(os.readlink(link))
        assert original.is_absolute() and original in sources, original
        assert original.read_bytes() == Path(link).read_bytes()
        assert original.name == name.rsplit("/", 1)[-1]
    found = wait_names(run.path, set(expected))
    assert {n: (f.policy, f.digest, f.uploads) for n, f in found.items()} == {
        n: ("end", "", 0) for n in expected}


def test_files_created_after_save_are_not_picked_up(project: str, workdir: Path) -> None:
    """A glob is expanded when save() is called: a file created later is neither linked nor uploaded."""
    make(workdir, "out/early.txt", b"early")
    run = start(project)
    assert run.save("out/*", policy="now") == [os.path.join(run.dir, "out", "early.txt")]
    make(workdir, "out/late.txt", b"late")
    path = run.path
    run.finish()
    found = files_of(path)
    assert set(found) == {"out/early.txt"}
    assert found["out/early.txt"].digest == sha(b"early")
    assert not os.path.lexists(os.path.join(run.dir, "out", "late.txt"))


def test_save_of_a_file_already_in_the_run_folder_keeps_it_in_place(project: str) -> None:
    """A file written inside run.dir is saved under its path there, not linked again."""
    run = start(project)
    inside = make(Path(run.dir), "media/plot.txt", b"inside the run")
    assert run.save(str(inside), policy="now") == [str(inside)]
    assert not os.path.islink(inside)
    assert wait_digest(run.path, "media/plot.txt", b"inside the run").size == 14


# -- policies ---------------------------------------------------------------------------------


def test_policy_now_uploads_while_the_run_is_live(project: str, workdir: Path) -> None:
    """policy="now" uploads at once: the digest, size and mime type are readable while the run is still running."""
    data = b"epoch,acc\n1,0.9\n"
    make(workdir, "results.csv", data)
    run = start(project)
    run.save("results.csv", policy="now")
    found = wait_digest(run.path, "results.csv", data)
    assert mytrack.Api().run(run.path).state == "running"
    assert (found.size, found.policy, found.uploads, found.mimetype) == (
        len(data), "now", 1, "text/csv")
    assert found.updated_at > 0


def test_policy_end_uploads_nothing_before_finish(project: str, workdir: Path) -> None:
    """policy="end" leaves the file un-uploaded while the run is live (even after a later "now" file is done) and
    uploads it at finish."""
    make(workdir, "final.txt", b"written at the end")
    make(workdir, "marker.txt", b"marker")
    run = start(project)
    run.save("final.txt", policy="end")
    run.save("marker.txt", policy="now")
    wait_digest(run.path, "marker.txt", b"marker")
    live = files_of(run.path)["final.txt"]
    assert (live.digest, live.uploads, live.size, live.policy) == ("", 0, 0, "end")
    wait_for(lambda: run.status().files_pending == 0, timeout=20,
             message="no pending upload while the run is live")
    assert files_of(run.path)["final.txt"].digest == ""
    make(workdir, "final.txt", b"changed before finish")
    path = run.path
    run.finish()
    done = files_of(path)["final.txt"]
    assert (done.digest, done.uploads, done.size) == (
        sha(b"changed before finish"), 1, len(b"changed before finish"))


def test_policy_live_uploads_every_version_and_the_last_one_at_finish(project: str,
                                                                      workdir: Path) -> None:
    """policy="live" uploads each new version during the run, the final one at finish, one upload per distinct
    content."""
    source = make(workdir, "progress.txt", b"version-0")
    run = start(project)
    run.save("progress.txt")  # live is the default
    path = run.path
    wait_digest(path, "progress.txt", b"version-0")
    for version in (1, 2, 3):
        found = write_until_uploaded(path, source, "progress.txt", f"version-{version}".encode())
        assert found.uploads == version + 1
        assert mytrack.Api().run(path).state == "running"
    overwrite(source, b"version-9")  # written just before finish
    run.finish()
    final = files_of(path)["progress.txt"]
    assert (final.digest, final.policy, final.uploads) == (sha(b"version-9"), "live", 5)
    handle = mytrack.Api().run(path).file("progress.txt").download(root=str(workdir / "dl"))
    with handle:
        assert handle.read() == "version-9"


def test_live_file_written_1000_times_is_uploaded_a_few_times(project: str,
                                                               workdir: Path) -> None:
    """1,000 writes of a live file in a tight loop give at most 3 new uploads, and the store ends with the last
    content."""
    source = make(workdir, "burst.txt", b"burst-ready")
    run = start(project)
    run.save("burst.txt", policy="live")
    path = run.path
    wait_digest(path, "burst.txt", b"burst-ready")
    # A change seen by the watcher: from now on the file is watched.
    write_until_uploaded(path, source, "burst.txt", b"burst-watch")
    before = files_of(path)["burst.txt"].uploads
    for i in range(1000):
        overwrite(source, f"burst-{i:05d}".encode())
    found = wait_digest(path, "burst.txt", b"burst-00999")
    assert 1 <= found.uploads - before <= 3, found.uploads - before
    with mytrack.restore("burst.txt", root=str(workdir / "check")) as handle:
        assert handle.read() == "burst-00999"
    run.finish()
    assert files_of(path)["burst.txt"].uploads == found.uploads


def test_live_file_deleted_by_the_user_stays_as_last_uploaded(project: str,
                                                              workdir: Path) -> None:
    """A live file deleted during the run keeps its last uploaded content after finish, which does not hang on it."""
    source = make(workdir, "gone.txt", b"last good")
    run = start(project)
    run.save("gone.txt")
    path = run.path
    wait_digest(path, "gone.txt", b"last good")
    source.unlink()
    started = time.monotonic()
    run.finish()
    assert time.monotonic() - started < 10
    found = files_of(path)["gone.txt"]
    assert (found.digest, found.uploads, found.size) == (sha(b"last good"), 1, 9)
    with mytrack.Api().run(path).file("gone.txt").download(root=str(workdir / "back")) as handle:
        assert handle.read() == "last good"


def test_unchanged_live_file_is_not_pending(project: str, workdir: Path) -> None:
    """Once a live file's last version is uploaded and nothing writes it, run.status() reports no pending file for 2
    s."""
    source = make(workdir, "idle.txt", b"idle-0")
    run = start(project)
    # The run's own environment files (saved a few seconds after init) are
    # queued now, so that only idle.txt can be pending below.
    environment.settle(run)
    run.save("idle.txt")
    wait_digest(run.path, "idle.txt", b"idle-0")
    write_until_uploaded(run.path, source, "idle.txt", b"idle-1")  # watched from now on
    wait_for(lambda: run.status().files_pending == 0, timeout=20, message="no pending file")
    deadline = time.monotonic() + 2.0
    while time.monotonic() < deadline:
        assert run.status().files_pending == 0
        time.sleep(0.05)


def test_save_copies_where_links_are_impossible_and_downgrades_live_to_now(project: str, workdir: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """Where neither a symlink nor a hard link is possible the file is copied, with a warning, and "live" becomes
    "now"."""
    make(workdir, "copied.txt", b"copied content")
    run = start(project)

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise OSError(1, "links not supported here")

    monkeypatch.setattr(os, "symlink", refuse)
    monkeypatch.setattr(os, "link", refuse)
    with pytest.warns(UserWarning, match="copied") as record:
        links = run.save("copied.txt", policy="live")
    monkeypatch.undo()
    assert str(workdir / "copied.txt") in str(record[0].message)
    assert links == [os.path.join(run.dir, "copied.txt")]
    assert not os.path.islink(links[0]) and os.stat(links[0]).st_nlink == 1
    assert Path(links[0]).read_bytes() == b"copied content"
    found = wait_digest(run.path, "copied.txt", b"copied content")
    assert found.policy == "now"


def test_save_falls_back_to_a_hard_link(project: str, workdir: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """Where a symlink is impossible the file is hard-linked (same inode), silently, keeping its policy."""
    source = make(workdir, "hard.txt", b"hard linked")
    run = start(project)

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise OSError(1, "symlinks not supported here")

    monkeypatch.setattr(os, "symlink", refuse)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        links = run.save("hard.txt", policy="end")
    monkeypatch.undo()
    assert not os.path.islink(links[0])
    assert os.path.samefile(links[0], source)
    found = wait_names(run.path, {"hard.txt"})
    assert found["hard.txt"].policy == "end"


# -- identical content ------------------------------------------------------------------------


def test_identical_content_is_stored_once(project: str, workdir: Path,
                                          mytrack_home: Path) -> None:
    """Two saved files with the same bytes share one digest and one blob under MYTRACK_DIR/blobs."""
    data = b"same bytes " + os.urandom(32)
    make(workdir, "one/weights.bin", data)
    make(workdir, "two/weights.bin", data)
    run = start(project)
    run.save("*/weights.bin", policy="now")
    first = wait_digest(run.path, "one/weights.bin", data)
    second = wait_digest(run.path, "two/weights.bin", data)
    assert first.digest == second.digest == sha(data)
    blobs = [p for p in (mytrack_home / "blobs").rglob(sha(data)) if p.is_file()]
    assert len(blobs) == 1
    assert blobs[0].read_bytes() == data


# -- restore ----------------------------------------------------------------------------------


def saved_run(project: str, workdir: Path, name: str, data: bytes) -> Any:
    """A live run that has uploaded ``name`` with ``data`` (saved from the workdir)."""
    make(workdir, name, data)
    run = start(project)
    run.save(name, policy="now")
    wait_digest(run.path, name, data)
    return run


def test_restore_during_a_run_downloads_into_run_dir(project: str, workdir: Path) -> None:
    """restore(name) during a run writes the file into run.dir (a real file, not a link) and returns it open for
    reading."""
    run = saved_run(project, workdir, "ckpt/model.txt", b"weights v1")
    link = Path(run.dir) / "ckpt" / "model.txt"
    link.unlink()
    with run.restore("ckpt/model.txt") as handle:
        assert handle.name == str(link)
        assert handle.read() == "weights v1"
    assert link.is_file() and not link.is_symlink()
    with mytrack.restore("ckpt/model.txt") as handle:  # module level, same run
        assert (handle.name, handle.read()) == (str(link), "weights v1")


def test_restore_keeps_an_existing_file_unless_replace(project: str, workdir: Path) -> None:
    """restore(root=...) downloads a missing file, keeps a present one, and overwrites it only with replace=True."""
    run = saved_run(project, workdir, "cfg.yaml", b"lr: 0.1\n")
    root = workdir / "restored"
    target = root / "cfg.yaml"
    with run.restore("cfg.yaml", root=str(root)) as handle:
        assert (handle.name, handle.read()) == (str(target), "lr: 0.1\n")
    target.write_text("lr: 0.5  # local edit\n")
    with run.restore("cfg.yaml", root=str(root)) as handle:
        assert handle.read() == "lr: 0.5  # local edit\n"
    with run.restore("cfg.yaml", root=str(root), replace=True) as handle:
        assert handle.read() == "lr: 0.1\n"
    assert target.read_text() == "lr: 0.1\n"
    assert [p.name for p in root.iterdir()] == ["cfg.yaml"]  # no temporary file left


def test_restore_before_init_needs_run_path_and_writes_to_cwd(project: str,
                                                             workdir: Path) -> None:
    """Before init, restore() without run_path raises PreInitError; with it, it writes into the cwd (or root)."""
    run = saved_run(project, workdir, "notes/readme.md", b"# how to train\n")
    path = run.path
    run.finish()
    with pytest.raises(errors.PreInitError, match="run_path"):
        mytrack.restore("notes/readme.md")
    elsewhere = workdir / "fresh"
    elsewhere.mkdir()
    os.chdir(elsewhere)
    with mytrack.restore("notes/readme.md", run_path=path) as handle:
        assert handle.name == str(elsewhere / "notes" / "readme.md")
        assert handle.read() == "# how to train\n"
    with mytrack.restore("notes/readme.md", run_path=path, root=str(workdir / "r2")) as handle:
        assert (handle.name, handle.read()) == (
            str(workdir / "r2" / "notes" / "readme.md"), "# how to train\n")
    # "project/id" resolves with the default entity.
    (elsewhere / "notes" / "readme.md").unlink()
    with mytrack.restore("notes/readme.md", run_path=path.split("/", 1)[1]) as handle:
        assert handle.read() == "# how to train\n"


def test_restore_from_an_unknown_run_raises_value_error_naming_it(project: str,
                                                                  workdir: Path) -> None:
    """restore() from a run that does not exist raises ValueError naming the run, before and during a run."""
    entity = start(project).entity
    mytrack.finish()
    missing = f"{entity}/{project}/nosuch01"
    with pytest.raises(ValueError, match=missing):
        mytrack.restore("anything.txt", run_path=missing)
    run = start(project)
    with pytest.raises(ValueError, match=missing):
        run.restore("anything.txt", run_path=missing)
    assert not (workdir / "anything.txt").exists()
    assert not (Path(run.dir) / "anything.txt").exists()


def test_restore_from_an_unknown_run_raises_even_if_the_file_exists_locally(
        project: str, workdir: Path) -> None:
    """restore() from an unknown run raises ValueError even when a file of that name is already in root."""
    make(workdir, "model.txt", b"stale local copy")
    entity = start(project).entity
    mytrack.finish()
    with pytest.raises(ValueError, match=f"{entity}/{project}/nosuch02"):
        mytrack.restore("model.txt", run_path=f"{entity}/{project}/nosuch02")


def test_restore_of_a_file_the_run_does_not_have_raises_naming_it(project: str,
                                                                   workdir: Path) -> None:
    """restore() of a name the run never saved raises ValueError naming the file, and writes nothing."""
    run = saved_run(project, workdir, "present.txt", b"here")
    with pytest.raises(ValueError, match="absent.txt"):
        run.restore("absent.txt")
    assert not (Path(run.dir) / "absent.txt").exists()
    assert [p.name for p in Path(run.dir).iterdir() if p.name.startswith(".mytrack-")] == []


@pytest.mark.parametrize("name", ["../escape.txt", "a/../../escape.txt", "/etc/escape.txt",
                                  "", "a//b.txt"])
def test_restore_refuses_names_outside_the_root(name: str, project: str,
                                                workdir: Path) -> None:
    """restore() names with "..", an absolute path or empty parts raise ValueError and write nothing."""
    run = saved_run(project, workdir, "ok.txt", b"ok")
    root = workdir / "deep" / "root"
    with pytest.raises(ValueError):
        run.restore(name, root=str(root), replace=True)
    assert not (workdir / "deep" / "escape.txt").exists()
    assert not (workdir / "escape.txt").exists()
    assert not root.exists() or list(root.rglob("*")) == []


# -- read side and CLI -------------------------------------------------------------------------


def test_api_files_lists_and_downloads_with_replace_semantics(project: str,
                                                              workdir: Path) -> None:
    """ApiRun.files() lists name/size/digest/updated time; file(name).download() fetches it, keeps an existing copy
    unless replace."""
    run = saved_run(project, workdir, "sub/report.json", b'{"ok": true}')
    path = run.path
    run.finish()
    api_run = mytrack.Api().run(path)
    (item,) = [f for f in api_run.files() if f.name not in AUTO_FILES]
    assert (item.name, item.size, item.digest, item.mimetype) == (
        "sub/report.json", 12, sha(b'{"ok": true}'), "application/json")
    assert 0 < item.updated_at <= time.time()
    root = workdir / "api"
    with api_run.file("sub/report.json").download(root=str(root)) as handle:
        assert (handle.name, handle.read()) == (str(root / "sub" / "report.json"), '{"ok": true}')
    (root / "sub" / "report.json").write_text("edited")
    with api_run.file("sub/report.json").download(root=str(root)) as handle:
        assert handle.read() == "edited"
    with api_run.file("sub/report.json").download(root=str(root), replace=True) as handle:
        assert handle.read() == '{"ok": true}'
    with pytest.raises(ValueError, match="nope.txt"):
        api_run.file("nope.txt")


def test_cli_files_ls_and_get(project: str, workdir: Path,
                              capsys: pytest.CaptureFixture[str]) -> None:
    """`mytrack files ls PATH` prints size, time, digest prefix and name; `files get` writes the file (kept unless
    --replace)."""
    make(workdir, "cli/a.txt", b"alpha")
    make(workdir, "cli/b/bb.txt", b"bravo!!")
    run = start(project)
    run.save("cli/**/*.txt", policy="end")
    path = run.path
    run.finish()
    capsys.readouterr()
    assert cli.main(["files", "ls", path]) == 0
    lines = capsys.readouterr().out.splitlines()
    parsed = [line.split() for line in lines if line.split()[-1] not in AUTO_FILES]
    assert [(p[0], p[3], p[4]) for p in parsed] == [
        ("5", sha(b"alpha")[:12], "cli/a.txt"), ("7", sha(b"bravo!!")[:12], "cli/b/bb.txt")]
    assert all(len(p) == 5 and p[1].count("-") == 2 and p[2].count(":") == 2 for p in parsed)

    out = workdir / "got"
    assert cli.main(["files", "get", path, "cli/b/bb.txt", "--root", str(out)]) == 0
    target = out / "cli" / "b" / "bb.txt"
    assert capsys.readouterr().out.strip() == str(target)
    assert target.read_bytes() == b"bravo!!"
    target.write_bytes(b"local")
    assert cli.main(["files", "get", path, "cli/b/bb.txt", "--root", str(out)]) == 0
    assert target.read_bytes() == b"local"
    # The real console entry point, in a fresh process.
    result = subprocess.run(
        [sys.executable, "-m", "mytrack.cli", "files", "get", path, "cli/b/bb.txt",
         "--root", str(out), "--replace"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(target)
    assert target.read_bytes() == b"bravo!!"

    assert cli.main(["files", "get", path, "missing.txt", "--root", str(out)]) == 1
    assert "missing.txt" in capsys.readouterr().err
    missing_run = path.rsplit("/", 1)[0] + "/nosuch03"
    assert cli.main(["files", "ls", missing_run]) == 1
    assert missing_run in capsys.readouterr().err


# -- bad input ---------------------------------------------------------------------------------


def test_glob_matching_nothing_warns_and_returns_empty(project: str) -> None:
    """save() of a glob that matches no file warns naming the glob and returns []."""
    run = start(project)
    with pytest.warns(UserWarning, match=r"nothing/\*\.bin"):
        assert run.save("nothing/*.bin") == []
    assert files_of(run.path) == {}


def test_base_path_that_is_not_a_prefix_raises(project: str, workdir: Path) -> None:
    """A base_path that is not a prefix of the matched paths raises ValueError naming it, and nothing is saved."""
    make(workdir, "data/x.txt")
    run = start(project)
    with pytest.raises(ValueError, match="elsewhere"):
        run.save("data/x.txt", base_path=str(workdir / "elsewhere"))
    assert not os.path.lexists(run.dir) or not any(Path(run.dir).rglob("x.txt"))
    run.save("data/x.txt", policy="end")  # the run keeps working
    wait_names(run.path, {"data/x.txt"})


def test_unknown_policy_raises(project: str, workdir: Path) -> None:
    """An unknown policy raises ValueError naming it and the allowed ones."""
    make(workdir, "p.txt")
    run = start(project)
    with pytest.raises(ValueError, match="sometimes") as info:
        run.save("p.txt", policy="sometimes")
    assert all(word in str(info.value) for word in ("live", "now", "end"))
    assert not os.path.lexists(os.path.join(run.dir, "p.txt"))


@pytest.mark.parametrize("glob_str", ["../outside.txt", "../*.txt", "sub/../../outside.txt"])
def test_path_outside_the_run_is_refused(glob_str: str, project: str, workdir: Path) -> None:
    """A relative path reaching above the current directory raises ValueError; nothing lands outside run.dir."""
    (workdir.parent / "outside.txt").write_text("outside")
    (workdir / "sub").mkdir()
    run = start(project)
    with pytest.raises(ValueError, match="outside"):
        run.save(glob_str)
    assert not any(Path(run.dir).rglob("outside.txt"))
    assert not (Path(run.dir).parent / "outside.txt").exists()


@pytest.mark.skipif(os.geteuid() == 0, reason="root can read every file")
def test_unreadable_file_gives_an_error_naming_it(project: str, workdir: Path) -> None:
    """A file the user cannot read gives an error naming the file."""
    secret = make(workdir, "secret.txt", b"s")
    secret.chmod(0)
    run = start(project)
    try:
        with pytest.raises((ValueError, PermissionError), match="secret.txt"):
            run.save("secret.txt", policy="now")
    finally:
        secret.chmod(0o600)
