"""Where bytes come from. A collector never knows which source it got."""

from .errors import EvidenceError, NotFound, SourceError
from .fileinfo import FileContent, FileInfo, FileKind
from .files import LooseFilesSource
from .image import ImageSource
from .live import LiveSource
from .osinfo import CronFlavour, OsInfo
from .rooted import RootedSource, normalize

Source = RootedSource

__all__ = [
    "CronFlavour",
    "EvidenceError",
    "FileContent",
    "FileInfo",
    "FileKind",
    "ImageSource",
    "LiveSource",
    "LooseFilesSource",
    "NotFound",
    "OsInfo",
    "RootedSource",
    "Source",
    "SourceError",
    "normalize",
]
