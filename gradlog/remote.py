"""Remote inputs (``s3://``, ``gs://``, ``https://``, any fsspec protocol), streamed.

A path with a protocol prefix is opened through fsspec (the ``remote`` extra; each
cloud store also needs its own fsspec package, s3fs, gcsfs...) and read a block at a
time like a local file: never downloaded whole, never written to disk.
"""

from __future__ import annotations

import os

from gradlog import lazy
from gradlog.sources import Lines

_PROTOCOL = lazy.regex(r"^[A-Za-z][A-Za-z0-9+.-]*://")


class RemoteError(OSError):
    """A remote input that cannot be opened (the message says why, in one line)."""


def is_remote(path: str) -> bool:
    """Whether ``path`` names a remote input (a URL-like path that is no local file)."""
    return bool(_PROTOCOL.match(path)) and not os.path.exists(path)


def open_remote(path: str) -> Lines:
    """The lines of a remote input, streamed; RemoteError when it cannot be opened."""
    try:
        import fsspec
    except ImportError:
        raise RemoteError(
            f"{path}: reading a remote input needs fsspec: pip install 'gradlog[remote]'"
        ) from None
    try:
        handle = fsspec.open(path, "rb")
        stream = handle.open()
    except ImportError as exc:  # the protocol's own package (s3fs, gcsfs) is missing
        raise RemoteError(f"{path}: {exc}") from None
    except FileNotFoundError:
        raise RemoteError(f"{path}: no such file") from None
    except (OSError, ValueError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
        raise RemoteError(f"{path}: cannot read ({reason})") from None
    return Lines(stream)
