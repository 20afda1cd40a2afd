"""``mytrack.init()`` and the module-level functions that act on the current run."""

from __future__ import annotations

import json
import os
import shutil
import socket
import sys
import time
from collections.abc import Sequence
from typing import Any, TextIO

from mytrack._internal.console import capture as console
from mytrack._internal.files.restore import restore_file
from mytrack._internal.lifecycle import autoresume, environment, exithooks, signals, wandb_init
from mytrack._internal.run.config import config_from_source, sanitize
from mytrack._internal.run.run import Run
from mytrack._internal.run.values import check_text
from mytrack._internal.run.watch import WatchPreInitError
from mytrack._internal.sweeps import trial_env
from mytrack._internal.tensorboard import patching
from mytrack._internal.transport import launcher, webui
from mytrack._internal.transport.client import serialize_open_run
from mytrack._internal.transport.encode import dumps
from mytrack._internal.transport.sender import Sender
from mytrack._internal.transport.service_types import OpenRun, RunInfo, RunKey
from mytrack.errors import Error, InvalidTypeError, InvalidValueError, PreInitError
from mytrack.settings import Settings
from mytrack_common.address import ensure_private_dir, service_address
from mytrack_common.names import is_valid_run_id, new_run_id, new_run_name, new_writer_id

REINIT_MODES = ("finish_previous", "return_previous", "create_new")


def init(
    entity: str | None = None,
    project: str | None = None,
    name: str | None = None,
    id: str | None = None,  # noqa: A002 - the reference's name
    group: str | None = None,
    job_type: str | None = None,
    tags: Sequence[str] | None = None,
    notes: str | None = None,
    config: Any = None,
    dir: str | None = None,  # noqa: A002 - the reference's name
    mode: str | None = None,
    resume: str | bool | None = None,
    settings: Settings | dict[str, Any] | None = None,
    reinit: bool | str | None = None,
    # W&B's other keywords (mytrack._internal.lifecycle.wandb_init says what each does here).
    config_exclude_keys: Sequence[str] | None = None,
    config_include_keys: Sequence[str] | None = None,
    allow_val_change: bool | None = None,
    save_code: bool | None = None,
    force: bool | None = None,
    anonymous: str | None = None,
    resume_from: str | None = None,
    fork_from: str | None = None,
    sync_tensorboard: bool | None = None,
    tensorboard: bool | None = None,
    monitor_gym: bool | None = None,
    magic: Any = None,
) -> Run:
    """Starts a run and makes it the current one (``mytrack.run``).

    Raises:
        InvalidValueError / InvalidTypeError: an argument is invalid (named).
        ResumeError: ``resume="must"`` on a missing run, ``"never"`` on an existing one.
        CommError: the service could not be started or reached.
    """
    wandb_init.warn_unsupported(
        anonymous=anonymous, resume_from=resume_from, fork_from=fork_from, monitor_gym=monitor_gym, magic=magic,
    )
    sync_tensorboard = bool(sync_tensorboard or tensorboard)  # `tensorboard`: W&B's older name
    if sync_tensorboard:
        patching.require_tensorboard()
    config = wandb_init.filtered_config(config, config_include_keys, config_exclude_keys)
    trial = trial_env.current()
    if trial is not None:  # a sweep trial: its run, its values (see trial_env.py)
        entity, project, id = trial_env.claim(trial, {"entity": entity, "project": project, "id": id}).values()
        config, warned = trial_env.merged_config(config, trial.params)
    base = settings if isinstance(settings, Settings) else Settings(**(settings or {}))
    if isinstance(resume, bool):
        resume = "allow" if resume else None
    resolved = base.resolve(
        {
            "entity": entity, "project": project, "run_id": id, "run_name": name,
            "run_group": group, "run_job_type": job_type,
            "run_tags": tuple(_check_tags(tags)) if tags is not None else None,
            "run_notes": notes, "dir": dir, "mode": mode, "resume": resume,
        }
    )
    if resolved.run_id is not None and not is_valid_run_id(resolved.run_id):
        raise InvalidValueError(
            f"id {resolved.run_id!r} is invalid: use 1-128 letters, digits, '.', '_' or '-'"
        )
    previous = _current()
    policy = _reinit_policy(reinit)
    if previous is not None and not previous.disabled:
        if policy == "return_previous":
            return previous
        if policy == "finish_previous":
            previous.finish()
    run = _disabled_run(resolved, config) if resolved.mode == "disabled" else _start_run(resolved, config)
    wandb_init.after_start(run, allow_val_change, save_code)
    patching.start(run, sync_tensorboard)
    if trial is not None:
        run.config._lock(trial.params, trial_env.locked_message, warned=warned)
    # create_new, as in W&B, leaves the module-level run (mytrack.run, mytrack.log) alone
    # while another run is current.
    if policy != "create_new" or _current() is None:
        _set_current(run)
    return run


def _start_run(settings: Settings, config_source: Any) -> Run:
    # The service, if none runs, starts first: it starts while the run is prepared
    # (see launcher.py), and _connect_run waits for it.
    starting = None if settings.mode == "offline" else launcher.start_early(settings.service_dir or "")
    try:
        return _prepare_run(settings, config_source, starting)
    finally:
        if starting is not None:
            starting.release()  # init() failed before it connected


def _prepare_run(settings: Settings, config_source: Any, starting: launcher.Starting | None) -> Run:
    auto = settings.resume == "auto"
    settings = autoresume.resolve(settings)
    run_id = settings.run_id or new_run_id()
    if not is_valid_run_id(run_id):
        raise InvalidValueError(
            f"id {run_id!r} is invalid: use 1-128 letters, digits, '.', '_' or '-'"
        )
    config = sanitize(config_from_source(config_source))
    start_time = time.time()
    stamp = time.strftime("%Y%m%d_%H%M%S", time.localtime(start_time))
    run_dir = os.path.join(autoresume.runs_root(settings), f"run-{stamp}-{run_id}")
    # Owner-only: the folder holds the config (the .open file, the WAL) and metadata.
    ensure_private_dir(run_dir)
    os.makedirs(os.path.join(run_dir, "files"), exist_ok=True)
    writer_id = new_writer_id()
    key = RunKey(entity=settings.entity or "", project=settings.project or "", run_id=run_id)
    request = OpenRun(
        run=key, writer_id=writer_id, name=settings.run_name or "",
        group=settings.run_group or "", job_type=settings.run_job_type or "",
        tags=tuple(settings.run_tags or ()), notes=settings.run_notes or "",
        config_json=dumps(config), resume=settings.resume or "", run_dir=run_dir,
        start_time=start_time, pid=os.getpid(), host=socket.gethostname(),
        sweep_id=settings.sweep_id or "", mode=settings.mode or "online",
        shared=settings.mode == "shared", primary=bool(settings.x_primary),
        label=settings.x_label or "", stats_interval=settings.x_stats_sampling_interval,
    )
    offline = settings.mode == "offline"
    if offline and not request.name:
        request.name = new_run_name()  # no service to name it
    # What `mytrack sync` needs to replay this writer's WAL into a store later.
    open_path = os.path.join(run_dir, f"run-{run_id}-{writer_id}.open")
    with open(os.open(open_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as f:
        f.write(serialize_open_run(request))
    capture = console.begin(settings.console, _tee_server(settings))
    try:
        run = _connect_run(settings, request, run_dir, start_time, capture, starting)
    except BaseException:
        console.abandon(capture)
        raise
    console.attach(run, capture)
    if auto and not offline:
        # Only for resume="auto", as in W&B: the file is rewritten in place, and ext4
        # flushes such a file at close (auto_da_alloc), which 64 ranks starting in one
        # folder would otherwise wait on together.
        autoresume.remember(settings, run.entity, run.project, run.id)
    environment.collect_in_background(run)
    return run


def _tee_server(settings: Settings) -> str | None:
    """Where the capture gets its tee process: the service's tee server if this
    process finds no service running (it starts one, or waits for one starting,
    as ranks do at a cold start), else None (it starts its own).

    A forked tee costs a rank a fraction of a millisecond of CPU where starting
    an interpreter costs 13-14 ms, which 64 ranks starting together on a small
    machine wait for; but on such a machine a tee outside the program's session
    costs it a few microseconds more per printed line (docs/architecture.md).
    """
    if settings.mode == "offline":
        return None
    address = service_address(settings.service_dir or "")
    return None if os.path.exists(address.socket) else address.tee


def _connect_run(
    settings: Settings, request: OpenRun, run_dir: str, start_time: float,
    capture: console.ConsoleCapture | None, starting: launcher.Starting | None = None,
) -> Run:
    """Opens the run with the service (or offline) and builds the `Run`."""
    key, writer_id = request.run, request.writer_id
    run_id, entity, project = key.run_id, key.entity, key.project
    offline = settings.mode == "offline"
    client = None
    web = None
    info, resumed, starting_step = _offline_info(request), False, 0
    if not offline:
        try:
            client = launcher.connect(
                settings.service_dir or "", timeout=settings.init_timeout or 30.0, starting=starting
            )
            response = client.open_run(request, timeout=settings.init_timeout)
        except Error:
            # Refused (resume rules) or unreachable: leave no run folder behind.
            shutil.rmtree(run_dir, ignore_errors=True)
            if client is not None:
                client.close()
            raise
        info, resumed, starting_step = response.run, response.resumed, response.starting_step
        web = webui.from_reply(response)
    sender = Sender(
        settings.service_dir or "", writer_id, key,
        max_buffer_bytes=settings.max_buffer_bytes or 64 << 20,
        max_queue_entries=settings.max_queue_entries or 20_000,
        heartbeat_interval=settings.heartbeat_interval or 2.0,
        connect_timeout=settings.init_timeout or 30.0,
        client=client,
        offline_wal=os.path.join(run_dir, f"run-{run_id}-{writer_id}.wal") if offline else "",
        on_stop=signals.request_stop,
    )
    run = Run(
        settings=settings, entity=entity, project=project, run_id=run_id,
        name=info.name, group=info.group,
        job_type=info.job_type, tags=tuple(info.tags), notes=info.notes,
        config=json.loads(info.config_json or b"{}"), run_dir=run_dir, start_time=start_time,
        resumed=resumed, starting_step=starting_step, sender=sender,
        client=client, writer_id=writer_id, web=web,
    )
    exithooks.register(run)
    signals.install()
    if not settings.quiet:
        verb = "resumed" if resumed else "started"
        where = (
            f"saved offline in {run_dir}; upload with: mytrack sync {run_dir}"
            if offline else f"see it with: mytrack runs show {run.path}"
        )
        if run.url and web is not None:
            where = f"view it at {run.url} ; {where}"
        # Past the capture: the run's log holds the program's output, not ours.
        console.write_uncaptured(capture, f"mytrack: run {run.name} ({run.path}) {verb}; {where}")
    return run


def _offline_info(request: OpenRun) -> RunInfo:
    return RunInfo(
        key=request.run, name=request.name, state="running", group=request.group,
        job_type=request.job_type, tags=request.tags, notes=request.notes,
        config_json=request.config_json,
    )


def _disabled_run(settings: Settings, config_source: Any) -> Run:
    config = config_from_source(config_source)
    return Run(
        settings=settings, entity=settings.entity or "", project=settings.project or "",
        run_id=settings.run_id or new_run_id(), name=settings.run_name or new_run_name(),
        group=settings.run_group or "", job_type=settings.run_job_type or "",
        tags=tuple(settings.run_tags or ()), notes=settings.run_notes or "",
        config=config, start_time=time.time(),
    )


def _check_tags(tags: Any) -> list[str]:
    if isinstance(tags, str):
        raise InvalidTypeError("tags must be a list of strings, not a single string")
    out = list(tags)
    for tag in out:
        if not isinstance(tag, str) or not tag:
            raise InvalidTypeError(f"tags must be non-empty strings, got {tag!r}")
        check_text(tag, "tags")
    return out


def _reinit_policy(reinit: bool | str | None) -> str:
    if reinit is None or reinit is True or reinit == "default":
        return "finish_previous"
    if reinit is False:
        return "return_previous"
    if reinit not in REINIT_MODES:
        raise InvalidValueError(f"reinit must be one of {', '.join(REINIT_MODES)}, got {reinit!r}")
    return str(reinit)


def _current() -> Run | None:
    module = sys.modules["mytrack"]
    run: Run | None = getattr(module, "run", None)
    return run


def _set_current(run: Run) -> None:
    module = sys.modules["mytrack"]
    module.run = run  # type: ignore[attr-defined]
    module.config = run.config  # type: ignore[attr-defined]
    module.summary = run.summary  # type: ignore[attr-defined]


def _require_run(what: str) -> Run:
    run = _current()
    if run is None:
        raise PreInitError(f"You must call mytrack.init() before mytrack.{what}()")
    return run


def log(data: dict[str, Any], step: int | None = None, commit: bool | None = None) -> None:
    """Logs to the current run; see `Run.log`."""
    _require_run("log").log(data, step=step, commit=commit)


def finish(exit_code: int | None = None, quiet: bool | None = None) -> None:
    """Finishes the current run, if any; see `Run.finish`."""
    run = _current()
    if run is not None:
        run.finish(exit_code=exit_code, quiet=quiet)


def save(glob_str: Any, base_path: Any = None, policy: str = "live") -> list[str]:
    """Saves files with the current run; see `Run.save`."""
    return _require_run("save").save(glob_str, base_path=base_path, policy=policy)


def restore(
    name: str, run_path: str | None = None, replace: bool = False, root: str | None = None
) -> TextIO | None:
    """Downloads a saved file; ``run_path`` is required before ``init()``."""
    run = _current()
    if run is not None:
        return run.restore(name, run_path=run_path, replace=replace, root=root)
    if run_path is None:
        raise PreInitError("restore() before mytrack.init() needs run_path='entity/project/run_id'")
    settings = Settings().resolve()
    return restore_file(name, run_path, replace, root or os.getcwd(), settings)


def watch(
    models: Any, criterion: Any = None, log: str | None = "gradients", log_freq: int = 1000,
    idx: int | None = None, log_graph: bool = False,
) -> None:
    """Hooks PyTorch models on the current run; see `Run.watch`. ValueError before init()."""
    run = _current()
    if run is None:
        raise WatchPreInitError("You must call mytrack.init() before mytrack.watch()")
    run.watch(models, criterion=criterion, log=log, log_freq=log_freq, idx=idx, log_graph=log_graph)


def unwatch(models: Any = None) -> None:
    """Removes the hooks of `watch` from the current run's models; see `Run.unwatch`."""
    run = _current()
    if run is None:
        raise WatchPreInitError("You must call mytrack.init() before mytrack.unwatch()")
    run.unwatch(models)


def alert(title: str, text: str, level: Any = None, wait_duration: Any = None) -> None:
    """Sends an alert from the current run; see `Run.alert`."""
    _require_run("alert").alert(title, text, level=level, wait_duration=wait_duration)
