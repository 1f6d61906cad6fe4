"""A mounted or extracted root of another host (a disk image, a triage folder laid out as `/`)."""

from __future__ import annotations

from ..model import SourceKind
from .rooted import RootedSource


class ImageSource(RootedSource):
    """Everything, including host name, OS and accounts, comes from files inside `root`."""

    kind = SourceKind.IMAGE
