"""TensorBoard event files (``events.out.tfevents.*``) read without TensorFlow.

An event file is a sequence of TFRecords (a little-endian uint64 length, a CRC of it,
the data, a CRC of the data); each record's data is an ``Event`` protocol buffer. Only
the few fields a scalar needs are decoded, straight from the protobuf wire format:

- ``Event``: 2 step (varint), 5 summary;
- ``Summary``: 1 value (repeated);
- ``Summary.Value``: 1 tag, 2 simple_value (float32: ``torch.utils.tensorboard`` and TF1
  write scalars so), 8 tensor (TF2's ``tf.summary.scalar``), 9 metadata (its plugin);
- ``TensorProto``: 1 dtype, 2 shape, 4 tensor_content, 5 float_val, 6 double_val,
  7 int_val, 10 int64_val: a scalar is a tensor of one numeric element.

Histograms, images, text and graphs are skipped. The CRCs are not checked; a record cut
short at the end of a file (a run still writing) ends the file.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from typing import BinaryIO

from gradlog.saved.wire import WireError, fields, varint

_RECORD_LIMIT = 256 << 20  # bytes: a longer record is not an event (or not a scalar's)
_SIGNATURE = b"brain.Event:"  # the first event of every file: its file_version
# TensorProto dtypes of numbers, with the struct format of one element in tensor_content.
_DTYPES = {1: "<f", 2: "<d", 3: "<i", 9: "<q", 4: "<B", 6: "<b", 5: "<h", 17: "<H"}
_SCALARS = "scalars"


class EventFileError(WireError):
    """Not a TensorBoard event file, or a damaged one."""


def _packed(wire: int, value: int | bytes, fmt: str) -> list[float]:
    """A repeated number field, packed (one bytes value) or not (one element)."""
    if isinstance(value, int):
        return [float(value)]
    if wire == 2 and fmt in ("<f", "<d"):
        size = struct.calcsize(fmt)
        return [v for (v,) in struct.iter_unpack(fmt, value[: len(value) // size * size])]
    if wire == 2:  # packed varints
        found, at = [], 0
        while at < len(value):
            item, at = varint(value, at)
            found.append(float(item - (1 << 64) if item >= 1 << 63 else item))
        return found
    return [struct.unpack(fmt, value)[0]]


def _tensor(data: bytes) -> float | None:
    """The value of a tensor of one numeric element, else None."""
    dtype, elements, content = 0, 1, b""
    values: list[float] = []
    for number, wire, value in fields(data):
        if number == 1 and isinstance(value, int):
            dtype = value
        elif number == 2 and isinstance(value, bytes):  # shape: each dim's size
            for dim_number, _, dim in fields(value):
                if dim_number == 2 and isinstance(dim, bytes):
                    size = dict((n, v) for n, _, v in fields(dim)).get(1, 0)
                    elements *= size if isinstance(size, int) else 0
        elif number == 4 and isinstance(value, bytes):
            content = value
        elif number == 5:
            values += _packed(wire, value, "<f")
        elif number == 6:
            values += _packed(wire, value, "<d")
        elif number in (7, 10):
            values += _packed(wire, value, "<q")
    fmt = _DTYPES.get(dtype)
    if fmt is None or elements != 1:
        return None
    if content:
        if len(content) != struct.calcsize(fmt):
            return None
        return float(struct.unpack(fmt, content)[0])
    return values[0] if len(values) == 1 else None


def _plugin(data: bytes) -> str | None:
    for number, _, value in fields(data):
        if number == 1 and isinstance(value, bytes):  # plugin_data
            for inner, _, name in fields(value):
                if inner == 1 and isinstance(name, bytes):
                    return name.decode("utf-8", "replace")
    return None


def scalars(data: bytes, plugins: dict[str, str]) -> tuple[int | None, list[tuple[str, float]]]:
    """The step and the scalars of one event's data. ``plugins``: each tag's plugin as
    its first event named it (later ones omit it), kept across events."""
    step: int | None = None
    found: list[tuple[str, float]] = []
    for number, _, value in fields(data):
        if number == 2 and isinstance(value, int):
            step = value - (1 << 64) if value >= 1 << 63 else value
        elif number == 5 and isinstance(value, bytes):
            for inner, _, item in fields(value):
                if inner == 1 and isinstance(item, bytes):
                    scalar = _value(item, plugins)
                    if scalar is not None:
                        found.append(scalar)
    return step, found


def _value(data: bytes, plugins: dict[str, str]) -> tuple[str, float] | None:
    tag, simple, tensor, plugin = "", None, None, None
    for number, _, value in fields(data):
        if number == 1 and isinstance(value, bytes):
            tag = value.decode("utf-8", "replace")
        elif number == 2 and isinstance(value, bytes) and len(value) == 4:
            simple = struct.unpack("<f", value)[0]
        elif number == 8 and isinstance(value, bytes):
            tensor = value
        elif number == 9 and isinstance(value, bytes):
            plugin = _plugin(value)
    if plugin is not None and tag not in plugins and len(plugins) < 65536:
        plugins[tag] = plugin
    if simple is not None:
        return tag, float(simple)
    if tensor is not None and plugins.get(tag, _SCALARS) == _SCALARS:
        found = _tensor(tensor)
        return None if found is None else (tag, found)
    return None


def records(stream: BinaryIO) -> Iterator[bytes]:
    """The data of each TFRecord of an event file; EventFileError when its first record
    is not an event file's."""
    first = True
    while True:
        header = stream.read(12)
        if len(header) < 12:
            return  # the end, or a record cut short: a run still writing
        (length,) = struct.unpack("<Q", header[:8])
        if length > _RECORD_LIMIT:
            raise EventFileError(f"a record of {length} bytes")
        data = stream.read(length)
        if len(stream.read(4)) < 4 or len(data) < length:
            return
        if first:
            if _SIGNATURE not in data[:64]:
                raise EventFileError("its first record is not an event file's version")
            first = False
        yield data


def is_event_file(head: bytes) -> bool:
    """Whether a file's first bytes are those of an event file."""
    if len(head) < 12:
        return False
    (length,) = struct.unpack("<Q", head[:8])
    return 0 < length < 4096 and _SIGNATURE in head[12 : 12 + length]
