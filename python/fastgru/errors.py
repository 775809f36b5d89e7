"""The one error type for model files that fastgru cannot trust."""

from __future__ import annotations

import os
from typing import Any

__all__ = ["FormatError", "source_name", "listing"]


class FormatError(ValueError):
    """A model file (an .npz from ``GRU.save``, an ONNX file, bytes or an ``onnx.ModelProto``) whose
    content is malformed or inconsistent: not a zip / protobuf, truncated, a config that is not
    fastgru's, arrays whose shapes or sizes disagree with the config or with the data present,
    external data outside its base directory. The message starts with the source (the path's
    repr, ``<bytes>``, ``<ModelProto>``) and says what is wrong; when a parser failed, its
    exception is chained as ``__cause__``.

    A ValueError, so code catching ValueError for bad input keeps working. A missing or unreadable
    file is not a format problem: that stays the OSError ``open`` raises."""


def source_name(source: Any) -> str:
    """How messages name a model source: a path's repr, or what kind of in-memory object it is."""
    if isinstance(source, (str, os.PathLike)):
        return repr(os.fspath(source))
    if isinstance(source, (bytes, bytearray, memoryview)):
        return "<bytes>"
    name = getattr(source, "name", None)  # an open file
    if isinstance(name, str):
        return repr(name)
    return f"<{type(source).__name__}>"


def listing(names: Any, limit: int = 5) -> str:
    """At most `limit` names, then how many more: messages stay short whatever an input holds."""
    names = list(names)
    shown = ", ".join(repr(n)[:80] for n in names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")
