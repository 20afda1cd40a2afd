"""Rich values for ``log()``: images, video, audio, histograms, tables, 3-D objects, HTML.

    run.log({"examples": [mytrack.Image(x, caption=str(y)) for x, y in batch],
             "weights": mytrack.Histogram(w)})

Each becomes a descriptor in the history row (``_type``, ``path`` inside the
run's files, ``sha256``, ``size`` and fields of its kind); the file is written
to ``files/media/<kind>/`` and uploaded. A matplotlib figure logged directly
is stored as an `Image`. Through ``mytrack.Api`` the descriptors come back as
dicts with a ``download()`` method.
"""

from __future__ import annotations

from mytrack._internal.media.audio import Audio
from mytrack._internal.media.base import Media
from mytrack._internal.media.chart import Plot
from mytrack._internal.media.histogram import Histogram
from mytrack._internal.media.html import Html
from mytrack._internal.media.image import Image
from mytrack._internal.media.object3d import Object3D
from mytrack._internal.media.table import Table
from mytrack._internal.media.video import Video

__all__ = ["Audio", "Histogram", "Html", "Image", "Media", "Object3D", "Plot", "Table", "Video"]
