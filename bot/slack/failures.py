"""Whose fault an exception out of bolt's dispatch is: ours (a traceback, the generic answer) or the
sender's (a payload bolt could not route: 400)."""

from __future__ import annotations

import os
import traceback
from pathlib import Path

_OUR_PACKAGES = tuple(
    str(Path(__file__).resolve().parents[2] / name) + os.sep for name in ("bot", "domain", "storage")
)
# Frames that only pass an exception through (the metered dispatch): not where a failure came from.
_PASS_THROUGH = (str(Path(__file__).resolve().parent / "metered_app.py"),)


def raised_in_our_code(exc: BaseException) -> bool:
    """True when a frame below the catching one is ours: bolt only routed, the failing code is ours."""
    frames = list(traceback.walk_tb(exc.__traceback__))[1:]  # the first is the frame that caught it
    return any(
        frame.f_code.co_filename.startswith(_OUR_PACKAGES) and frame.f_code.co_filename not in _PASS_THROUGH
        for frame, _line in frames
    )
