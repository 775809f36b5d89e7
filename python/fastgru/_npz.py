"""Reading an .npz file from outside without trusting it.

Every size the file claims (the zip directory's member sizes, each .npy header's shape) is checked
against the file's own size before anything is allocated from it, so reading costs at most a
constant times the file's size (the size itself for GRU.save's stored members, at most
MAX_EXPANSION times it for np.savez_compressed's). Callers read the headers first (`header`), check the shapes
against what they expect, and only then read the data (`read`). Problems raise FormatError naming
the file; the zip and .npy parsers' own exceptions are chained.
"""

from __future__ import annotations

import io
import math
import struct
import tokenize
import zipfile
import zlib
from dataclasses import dataclass
from typing import IO

import numpy as np

from .errors import FormatError

__all__ = ["Npz", "NpyHeader", "PARSE_ERRORS"]

# What the zip, zlib, .npy header (tokenize, ast) and JSON parsers raise for bad bytes
# (RecursionError, a RuntimeError: nesting).
PARSE_ERRORS = (zipfile.BadZipFile, zlib.error, struct.error, EOFError, OSError, ValueError, TypeError,
                KeyError, IndexError, OverflowError, SyntaxError, RuntimeError, tokenize.TokenError)
# Deflate cannot expand its input more than this (a 258-byte match coded in about 2 bits).
DEFLATE_MAX_RATIO = 1032
# np.savez_compressed files may hold at most this many times their size (weights compress far
# less; zeros would let a small file claim gigabytes).
MAX_EXPANSION = 64
MAX_HEADER_SIZE = 10000  # NumPy's own cap for a .npy header


@dataclass(frozen=True)
class NpyHeader:
    shape: tuple[int, ...]
    dtype: np.dtype
    fortran_order: bool
    data_offset: int  # bytes of magic and header before the data

    @property
    def nbytes(self) -> int:
        return math.prod(self.shape) * self.dtype.itemsize  # Python ints: no overflow


class Npz:
    """The .npy members of one zip file, keyed by name without ".npy"."""

    def __init__(self, fp: IO[bytes], name: str) -> None:
        self.name = name
        fp.seek(0, io.SEEK_END)
        self.size = fp.tell()
        fp.seek(0)
        try:
            self._zip = zipfile.ZipFile(fp)
            infos = self._zip.infolist()
        except PARSE_ERRORS as e:
            raise FormatError(f"{name}: not a readable .npz (zip) file: {e}") from e
        self.members: dict[str, zipfile.ZipInfo] = {}
        stored = expanded = 0
        for info in infos:
            key = info.filename[:-4] if info.filename.endswith(".npy") else None
            if key is None or key in self.members:
                raise FormatError(f"{name}: member {info.filename[:80]!r} is not one array of an .npz file"
                                  + (" (its name appears twice)" if key is not None else ""))
            self._check_sizes(info)
            stored += info.compress_size
            expanded += info.file_size
            self.members[key] = info
        # Members sharing their bytes would let a small file claim many times its size.
        if stored > self.size:
            raise FormatError(f"{name}: its members claim {stored} bytes, more than the file's {self.size}")
        if expanded > MAX_EXPANSION * self.size + (1 << 20):
            raise FormatError(f"{name}: its compressed members expand to {expanded} bytes, more than "
                              f"{MAX_EXPANSION} times the file's {self.size}")

    def _check_sizes(self, info: zipfile.ZipInfo) -> None:
        if info.flag_bits & 0x1:
            raise FormatError(f"{self.name}: member {info.filename!r} is encrypted")
        if info.compress_type == zipfile.ZIP_STORED:
            expandable = info.file_size == info.compress_size
        elif info.compress_type == zipfile.ZIP_DEFLATED:  # np.savez_compressed
            expandable = info.file_size <= DEFLATE_MAX_RATIO * info.compress_size + 64
        else:
            raise FormatError(f"{self.name}: member {info.filename!r} uses zip compression method "
                              f"{info.compress_type}; .npz files are stored or deflated")
        if not expandable or info.header_offset + info.compress_size > self.size:
            raise FormatError(f"{self.name}: member {info.filename!r} claims {info.file_size} bytes "
                              f"({info.compress_size} stored), which this {self.size}-byte file cannot hold")

    def header(self, key: str) -> NpyHeader:
        """The shape and dtype member `key` declares; reads only its first bytes."""
        info = self.members[key]
        try:
            with self._zip.open(info) as f:
                version = np.lib.format.read_magic(f)
                if version == (1, 0):
                    shape, fortran, dtype = np.lib.format.read_array_header_1_0(f, max_header_size=MAX_HEADER_SIZE)
                elif version == (2, 0):
                    shape, fortran, dtype = np.lib.format.read_array_header_2_0(f, max_header_size=MAX_HEADER_SIZE)
                else:
                    raise ValueError(f".npy format version {version} is not one NumPy writes for numbers")
                offset = f.tell()
        except PARSE_ERRORS as e:
            raise FormatError(f"{self.name}: the .npy header of {key!r} cannot be read: {e}") from e
        if dtype.hasobject or any(d < 0 for d in shape):
            raise FormatError(f"{self.name}: {key!r} declares dtype {dtype} and shape {shape}")
        head = NpyHeader(tuple(shape), dtype, fortran, offset)
        if offset + head.nbytes != info.file_size:
            raise FormatError(f"{self.name}: {key!r} declares shape {head.shape} of {dtype} ({head.nbytes} bytes) "
                              f"but holds {info.file_size - offset} bytes of data")
        return head

    def read(self, key: str, head: NpyHeader) -> np.ndarray:
        """Member `key`'s array (read-only, over the member's bytes), its header already checked."""
        try:
            with self._zip.open(self.members[key]) as f:
                data = f.read()  # at most the checked file_size; the zip's CRC is checked at the end
        except PARSE_ERRORS as e:
            raise FormatError(f"{self.name}: the data of {key!r} cannot be read: {e}") from e
        if len(data) != head.data_offset + head.nbytes:
            raise FormatError(f"{self.name}: {key!r} holds {len(data) - head.data_offset} bytes of data, "
                              f"expected {head.nbytes}")
        arr = np.frombuffer(data, head.dtype, count=math.prod(head.shape), offset=head.data_offset)
        return arr.reshape(head.shape, order="F" if head.fortran_order else "C")

    def close(self) -> None:
        self._zip.close()
