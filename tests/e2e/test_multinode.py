"""Two services (two "nodes") sharing one PostgreSQL + S3 backend and one run."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import boto3

import mytrack
from tests.helpers import stop_service

WRITER = textwrap.dedent(
    """
    import os, sys, time
    import mytrack
    start, rank = sys.argv[1], int(sys.argv[2])
    while not os.path.exists(start):
        time.sleep(0.01)
    run = mytrack.init(project="multinode", id="mn-run", settings=mytrack.Settings(
        mode="shared", x_primary=rank == 0, x_label=f"node{rank % 2}-rank{rank}", quiet=True))
    with open(f"rank-{rank}.txt", "w") as f:
        f.write(f"written by rank {rank}\\n")
    run.save(f"rank-{rank}.txt", policy="now")
    run.define_metric("loss", summary="min,max,mean")
    for i in range(300):
        data = {f"w{rank}": float(i), "loss": float(rank * 1000 + i)}
        if rank % 2 == 0:
            run.log(data, step=i)
        else:
            run.log(data)
    if rank == 0:
        while not os.path.exists(start + ".others-done"):
            time.sleep(0.01)
    run.finish()
    """
)


def test_two_services_share_a_run_through_postgres_and_s3(
    tmp_path: Path, postgres_db: str, s3_endpoint: str
) -> None:
    """Writers on two services log into one shared run stored in PostgreSQL + S3:
    rows merge by step across services, define_metric aggregates span both
    services, every writer's summary key and file is there, the files are in S3,
    and the primary's finish ends the run."""
    bucket = f"mytrack-{uuid.uuid4().hex[:12]}"
    homes = [tmp_path / "node0", tmp_path / "node1"]
    base_env = {
        **os.environ, "MYTRACK_STORE": postgres_db, "MYTRACK_BLOBS": f"s3://{bucket}/runs",
        "AWS_ENDPOINT_URL": s3_endpoint,
    }
    start = tmp_path / "start"
    writers = []
    try:
        for rank in range(8):
            env = {**base_env, "MYTRACK_DIR": str(homes[rank % 2])}
            workdir = tmp_path / f"rank{rank}"
            workdir.mkdir()
            writers.append(subprocess.Popen(
                [sys.executable, "-c", WRITER, str(start), str(rank)], cwd=workdir, env=env,
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            ))
        start.touch()
        for writer in writers[1:]:
            assert writer.wait(timeout=180) == 0, writer.stderr.read()
        (tmp_path / "start.others-done").touch()
        assert writers[0].wait(timeout=180) == 0, writers[0].stderr.read()

        api = mytrack.Api(overrides={"service_dir": str(homes[1])})
        run = api.run(f"{api.default_entity}/multinode/mn-run")
        assert run.state == "finished"
        rows = list(run.scan_history())
        assert [row["_step"] for row in rows] == list(range(300))
        for row in rows:
            assert {k: v for k, v in row.items() if k.startswith("w")} == {
                f"w{rank}": float(row["_step"]) for rank in range(8)
            }
        # Aggregates over every writer of both services, combined in the store.
        assert run.summary["loss"] == {"min": 0.0, "max": 7299.0, "mean": 3649.5}
        assert {k: run.summary[k] for k in (f"w{r}" for r in range(8))} == {
            f"w{r}": 299.0 for r in range(8)
        }
        assert sorted(run.metadata["writers"]) == sorted(
            f"node{r % 2}-rank{r}" for r in range(1, 8)
        )
        files = {f.name: f for f in run.files() if f.name.startswith("rank-")}
        assert sorted(files) == [f"rank-{r}.txt" for r in range(8)]
        s3 = boto3.client("s3", endpoint_url=s3_endpoint)
        keys = {o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]}
        for rank, item in enumerate(sorted(files.values(), key=lambda f: f.name)):
            assert any(key.endswith(item.digest) for key in keys)
            content = item.download(root=str(tmp_path / "back")).read()
            assert content == f"written by rank {rank}\n"
    finally:
        for writer in writers:
            if writer.poll() is None:
                writer.kill()
        for home in homes:
            stop_service(home)
