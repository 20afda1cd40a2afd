"""Distributed patterns: many ranks per service, and shared runs with many writers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import mytrack
from tests.helpers import stop_service, wait_for

RANK_SCRIPT = textwrap.dedent(
    """
    import json, os, sys, time
    import mytrack
    start, done, rank, steps = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    open(f"{start}.ready-{rank}", "w").close()
    while not os.path.exists(start):
        time.sleep(0.01)
    t0 = time.perf_counter()
    run = mytrack.init(project="ranks", group="job-1", job_type="worker",
                       config={"rank": rank}, settings=mytrack.Settings(quiet=True))
    init_s = time.perf_counter() - t0
    print(json.dumps({"rank": rank, "init_s": init_s, "path": run.path}), flush=True)
    for i in range(steps):
        run.log({"loss": rank + i / steps, "rank": rank})
    assert run._sender.flush(60)  # acked: rank 13's rows must survive its kill
    while not os.path.exists(done):  # the job ends when every rank is initialised
        time.sleep(0.01)
    if rank == 13:
        os.kill(os.getpid(), 9)  # one rank dies without finish()
    run.finish()
    """
)


def test_64_ranks_start_together_with_one_service_and_one_crash(tmp_path: Path) -> None:
    """64 ranks launched at once on a cold home: one service starts, init() p99 is
    bounded, 63 runs finish with all their steps and the killed rank is crashed."""
    home = tmp_path / "home"
    env = {**os.environ, "MYTRACK_DIR": str(home)}
    start, done = tmp_path / "start", tmp_path / "done"
    ranks = [
        subprocess.Popen([sys.executable, "-c", RANK_SCRIPT, str(start), str(done), str(r), "200"],
                         cwd=tmp_path, env=env, stdout=subprocess.PIPE, text=True)
        for r in range(64)
    ]
    try:
        # The interpreters start and import mytrack; what is timed is init().
        wait_for(lambda: len(list(tmp_path.glob("start.ready-*"))) == 64, 120, message="ranks")
        start.touch()
        reports = [json.loads(rank.stdout.readline()) for rank in ranks]
        done.touch()
        for rank in ranks:
            rank.wait(timeout=120)
        inits = sorted(r["init_s"] for r in reports)
        # Only a hang fails here; the 2 s p99 target is measured by
        # scripts/bench/distributed.py, not asserted on a shared CI host.
        assert inits[-1] < 30.0, inits
        api = mytrack.Api(overrides={"service_dir": str(home)})
        pids = {line for line in (home / "service.pid").read_text().split()}
        assert len(pids) == 1
        runs = api.runs(f"{reports[0]['path'].split('/')[0]}/ranks")
        assert len(runs) == 64
        by_rank = {run.config["rank"]: run for run in runs}
        assert sorted(by_rank) == list(range(64))
        for rank, run in by_rank.items():
            stored = api.run(run.path)
            assert stored.group == "job-1" and stored.job_type == "worker"
            if rank != 13:
                assert stored.state == "finished"
            rows = list(stored.scan_history(keys=["loss", "rank"]))
            assert [row["_step"] for row in rows] == list(range(200))
            assert all(row["rank"] == rank for row in rows)
        try:
            wait_for(lambda: api.run(by_rank[13].path).state == "crashed", 30, message="crash")
        except AssertionError as exc:
            state = api.run(by_rank[13].path).state
            log = (home / "service.log").read_text()[-4000:]
            raise AssertionError(
                f"{exc}; rank 13 ({by_rank[13].path}) is {state!r}; service log:\n{log}"
            ) from None
        assert api.runs(f"{reports[0]['path'].split('/')[0]}/ranks",
                        filters={"state": "crashed"})[0].config["rank"] == 13
    finally:
        for rank in ranks:
            if rank.poll() is None:
                rank.kill()
        stop_service(home)


WRITER_SCRIPT = textwrap.dedent(
    """
    import os, sys, time
    import mytrack
    start, rank = sys.argv[1], int(sys.argv[2])
    while not os.path.exists(start):
        time.sleep(0.01)
    run = mytrack.init(project="shared", id="shared-run", settings=mytrack.Settings(
        mode="shared", x_primary=rank == 0, x_label=f"rank-{rank}", quiet=True))
    run.define_metric("loss", summary="min,max")
    for i in range(500):
        data = {f"w{rank}": float(i), "loss": float(rank * 1000 + i)}
        if i == 250:
            data["clash"] = rank  # the same key at the same step from every writer
        if rank % 2 == 0:
            run.log(data, step=i)  # explicit steps
        else:
            run.log(data)  # their own counter
    if rank == 0:
        while not os.path.exists(start + ".others-done"):
            time.sleep(0.01)
    conflicts = run.status().conflicts
    run.finish()
    print(conflicts)
    """
)


def test_eight_writers_share_one_run(tmp_path: Path) -> None:
    """8 writers log into one shared run, with explicit and automatic steps: rows
    merge by step, every value is kept, a deliberate key clash is counted, the
    summary aggregates span all writers, and only the primary ends the run."""
    env = {**os.environ}
    start = tmp_path / "start"
    writers = [
        subprocess.Popen([sys.executable, "-c", WRITER_SCRIPT, str(start), str(r)],
                         cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
        for r in range(8)
    ]
    start.touch()
    for writer in writers[1:]:
        assert writer.wait(timeout=120) == 0, writer.stderr.read()
    api = mytrack.Api()
    entity = api.default_entity
    run = api.run(f"{entity}/shared/shared-run")
    assert run.state == "running"  # the primary has not finished yet
    (tmp_path / "start.others-done").touch()
    assert writers[0].wait(timeout=120) == 0, writers[0].stderr.read()
    run = api.run(f"{entity}/shared/shared-run")
    assert run.state == "finished"
    rows = list(run.scan_history())
    assert [row["_step"] for row in rows] == list(range(500))
    for row in rows:
        for rank in range(8):
            assert row[f"w{rank}"] == float(row["_step"])
    assert rows[250]["clash"] in range(8)
    # "loss" and "clash" collide at every step where writers met; each writer saw
    # some of the conflicts it caused before finishing.
    assert int(writers[0].stdout.read().strip()) > 0
    assert run.summary["loss"] == {"min": 0.0, "max": 7499.0}
    writers_meta = run.metadata["writers"]
    assert sorted(writers_meta) == [f"rank-{r}" for r in range(1, 8)]
    assert all(w["state"] == "finished" for w in writers_meta.values())
