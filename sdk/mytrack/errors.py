"""Exceptions raised by mytrack.

Bad arguments raise at once, in the caller's thread; delivery problems never
raise out of ``log()`` (they are retried and reported by ``finish()`` and
``status()``). Foreign exceptions (grpc) are translated where they occur.

::

    Error
    ├── UsageError                a call that cannot be made now
    │   ├── PreInitError          log()/finish() before init()
    │   ├── RunFinishedError      a call on a finished run
    │   ├── ResumeError           resume="must" on a missing run, "never" on an existing one
    │   └── RunLiveError          deleting a live run, or editing its config or summary
    ├── CommError                 the service cannot be reached or failed
    ├── ArtifactError             an artifact could not be logged, or its content is not intact
    │   ├── ArtifactNotFoundError (+ValueError)   no artifact (version) of that name
    │   └── ArtifactNotLoggedError (+AttributeError)   wait()/download() on an offline run's artifact
    ├── RunNotFoundError (+ValueError)   the read API asked for an unknown run
    ├── SweepError                a sweep request that cannot be done (its state, an agent giving up)
    │   ├── SweepNotFoundError (+ValueError)   no sweep of that id
    │   ├── SweepConfigError (+ValueError)     the sweep configuration is invalid (names the key)
    │   └── TrialStoppedError     the sweep stopped this trial (early termination, cancel): raised by log()
    ├── InvalidKeyError (+ValueError)    a log()/config key that is empty or reserved
    ├── InvalidValueError (+ValueError)  a value or argument out of range
    ├── InvalidTypeError (+TypeError)    a key or value of an unsupported type
    └── MissingExtraError (+ImportError) an integration's framework (its optional extra) is not installed

    StepWarning (UserWarning)     a log() to a step lower than the current one was dropped
"""

from __future__ import annotations


class Error(Exception):
    """Base class of every mytrack exception."""


class UsageError(Error):
    """A call that cannot be made in the current state."""


class PreInitError(UsageError):
    """A run method was called before ``mytrack.init()``."""


class RunFinishedError(UsageError):
    """A method that records data was called on a finished run."""


class ResumeError(UsageError):
    """``init(resume=...)`` cannot be honoured."""


class RunLiveError(UsageError):
    """The run is live: stop it first (deleting it, editing its config or summary)."""


class CommError(Error):
    """The service could not be reached, or failed to do what was asked."""


class ArtifactError(Error):
    """An artifact could not be logged, linked or downloaded intact."""


class ArtifactNotFoundError(ArtifactError, ValueError):
    """No artifact, or no version or alias, of the given name."""


class ArtifactNotLoggedError(ArtifactError, AttributeError):
    """What only a stored version has (wait(), download()...) asked of an offline run's artifact.

    W&B raises its own ``ArtifactNotLoggedError`` (an AttributeError) there too.
    """


class RunNotFoundError(Error, ValueError):
    """No run with the given path."""


class SweepError(Error):
    """A sweep request that cannot be done now, or an agent that gave up."""


class SweepNotFoundError(SweepError, ValueError):
    """No sweep with the given id (in that project)."""


class SweepConfigError(SweepError, ValueError):
    """The sweep configuration is invalid; the message names the key and what was expected."""


class TrialStoppedError(SweepError):
    """The sweep stopped this trial (hyperband, or the sweep was canceled); ``log()`` raises it."""


class InvalidKeyError(Error, ValueError):
    """A key that is empty, or reserved (starts with ``_``)."""


class InvalidValueError(Error, ValueError):
    """A value or argument outside what is accepted."""


class InvalidTypeError(Error, TypeError):
    """A key or value of a type that cannot be recorded."""


class MissingExtraError(Error, ImportError):
    """A ``mytrack.integration`` module was imported without its framework installed."""


class StepWarning(UserWarning):
    """Data logged to a step lower than the current one was dropped."""
