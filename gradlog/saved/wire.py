"""The protocol-buffer wire format, read field by field without generated classes: what
TensorBoard's events and W&B's run records are written in. Only what those readers need:
varints, fixed 32 and 64-bit values, and length-delimited bytes (nested messages)."""

from __future__ import annotations

from collections.abc import Iterator


class WireError(ValueError):
    """Bytes that are not a protocol-buffer message."""


def varint(data: bytes, at: int) -> tuple[int, int]:
    """The varint at ``at``, and where the next field starts."""
    value = shift = 0
    while True:
        if at >= len(data) or shift > 63:
            raise WireError("a varint runs past its message")
        byte = data[at]
        at += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, at
        shift += 7


def fields(data: bytes) -> Iterator[tuple[int, int, int | bytes]]:
    """The fields of a protobuf message: (number, wire type, value), a varint as an int,
    anything else as its bytes."""
    at = 0
    while at < len(data):
        key, at = varint(data, at)
        number, wire = key >> 3, key & 7
        value: int | bytes
        if wire == 0:
            value, at = varint(data, at)
        elif wire in (1, 5):
            size = 8 if wire == 1 else 4
            value, at = data[at : at + size], at + size
        elif wire == 2:
            size, at = varint(data, at)
            value, at = data[at : at + size], at + size
        else:
            raise WireError(f"protobuf wire type {wire} is not read here (groups)")
        if at > len(data):
            raise WireError("a field runs past its message")
        yield number, wire, value
