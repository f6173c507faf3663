"""A minimal, bounds-checked reader of the zips gradgold writes: stored (uncompressed) entries, no
archive comment, no zip64, nothing before the first entry or between the central directory and
its end record.

Why not :mod:`zipfile`: parsing its central directory (a ``ZipInfo`` per entry, extra fields,
zip64 and comment handling) was a fifth of the cost of reading a golden; goldens are small, so
reading one is a single ``read`` of the file and a walk over its directory with
:func:`struct.unpack_from`. Every offset and length read from the file is checked against the
bytes actually there before it is used, and whatever is not what gradgold writes is refused: a
golden is attacker-written (see SECURITY.md), and :class:`~gradgold.golden` treats each entry's
bytes as hostile too.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable
from typing import NamedTuple

__all__ = [
    "STORED",
    "IntoReader",
    "Member",
    "Reader",
    "StoredZipError",
    "members",
    "stored_bytes",
    "stored_bytes_in",
]

#: End of central directory record: signature, this disk, the directory's disk, entries on this
#: disk, entries in all, directory size, directory offset, comment length.
_END = struct.Struct("<4sHHHHIIH")
#: Central directory record: signature, version made by, version needed, flags, method, time,
#: date, CRC-32, compressed size, size, name, extra and comment lengths, disk, internal and
#: external attributes, offset of the local header.
_CENTRAL = struct.Struct("<4sHHHHHHIIIHHHHHII")
#: Local file header: signature, 22 bytes the central directory also holds, name and extra lengths.
_LOCAL = struct.Struct("<4s22xHH")
#: The storage method of an uncompressed entry (the only one gradgold writes).
STORED = 0
#: A size or offset that says "see the zip64 extra field": never in a file gradgold wrote.
_ZIP64 = 0xFFFFFFFF


class StoredZipError(ValueError):
    """The bytes are not a zip gradgold could have written (the message says what)."""


class Member(NamedTuple):
    """One entry of the central directory (a named tuple: a golden has a dozen, read per run)."""

    name: str
    #: The raw name bytes' decoding (the local header must repeat them).
    raw_name: bytes
    method: int
    flags: int
    crc: int
    compressed_size: int
    size: int
    header_offset: int


#: Reads ``n`` bytes at an offset (fewer at the end of the file).
Reader = Callable[[int, int], bytes]
#: Fills a buffer from an offset; returns how many bytes it read.
IntoReader = Callable[[int, bytearray], int]


def members(read: Reader, file_size: int, max_entries: int) -> tuple[list[Member], int]:
    """The central directory's entries, in directory order, and where the entries' part of the
    file ends (the directory's offset).

    Refuses an archive comment, zip64, multiple disks, a directory that is not exactly between the
    entries and the end record, and more than ``max_entries`` entries."""
    if file_size < _END.size:
        raise StoredZipError("File is not a zip file (too short)")
    end = read(file_size - _END.size, _END.size)
    sig, disk, cd_disk, n_here, n_all, cd_size, cd_offset, comment = _END.unpack(end)
    if sig != b"PK\x05\x06" or comment:
        raise StoredZipError("File is not a zip file (no end record at its end; gradgold writes no comment)")
    if disk or cd_disk or n_here != n_all:
        raise StoredZipError("a multi-disk zip, which gradgold never writes")
    if n_all > max_entries:
        raise StoredZipError(f"{n_all} entries, more than any golden has")
    if cd_offset + cd_size != file_size - _END.size or cd_size < n_all * _CENTRAL.size:
        raise StoredZipError(
            "its central directory is not where its end record says (data appended, prepended or zip64)"
        )
    directory = read(cd_offset, cd_size)
    if len(directory) != cd_size:
        raise StoredZipError("its central directory is truncated")
    out, at, unpack = [], 0, _CENTRAL.unpack_from
    for _ in range(n_all):  # one loop, no call per record: a golden has a dozen and a run hundreds
        if at + _CENTRAL.size > cd_size:
            raise StoredZipError("its central directory is truncated")
        sig, _, _, flags, method, _, _, crc, csize, size, n_name, n_extra, n_comment, disk, _, _, offset = (
            unpack(directory, at)
        )
        start = at + _CENTRAL.size
        at = start + n_name + n_extra + n_comment
        if sig != b"PK\x01\x02" or at > cd_size:
            raise StoredZipError("Bad magic number for central directory, or a truncated one")
        if _ZIP64 in (csize, size, offset) or disk:
            raise StoredZipError("zip64 or multi-disk entries, which gradgold never writes")
        raw = directory[start : start + n_name]
        # as zipfile decodes it (ASCII, what gradgold writes, is the same in both and decodes in C)
        name = raw.decode("ascii" if raw.isascii() else "utf-8" if flags & 0x800 else "cp437")
        if "\x00" in name:
            raise StoredZipError(f"entry name {name!r} holds a NUL byte")
        if offset + _LOCAL.size > cd_offset:
            raise StoredZipError(f"entry {name!r} lies outside the entries' part of the file")
        out.append(Member(name, raw, method, flags, crc, csize, size, offset))
    if at != cd_size:
        raise StoredZipError("its central directory holds more than its entries")
    return out, cd_offset


def stored_bytes(
    read_into: Callable[[int, bytearray], int], read: Reader, member: Member, end: int
) -> bytearray:
    """A stored entry's bytes, in a buffer of their own (so arrays made from it are aligned and
    writable), after checking its local header (signature and name), its bounds (inside the
    entries' part of the file, which ends at ``end``) and its CRC-32."""
    local = read(member.header_offset, _LOCAL.size + len(member.raw_name))
    start = _data_start(local, member, end)
    data = bytearray(member.size)
    if read_into(start, data) != member.size:
        raise StoredZipError(f"entry {member.name!r} is truncated")
    return _crc_checked(data, member)


def stored_bytes_in(blob: bytes, member: Member, end: int) -> bytearray:
    """:func:`stored_bytes` of a file held whole in ``blob`` (the same checks, no reader calls)."""
    at = member.header_offset
    start = _data_start(blob[at : at + _LOCAL.size + len(member.raw_name)], member, end)
    return _crc_checked(bytearray(memoryview(blob)[start : start + member.size]), member)


def _data_start(local: bytes, member: Member, end: int) -> int:
    """Where ``member``'s data starts, from its local header's bytes (``local``: the header and the
    name, as read at its offset), after checking that header is its own and the data ends by ``end``."""
    raw = member.raw_name
    if len(local) != _LOCAL.size + len(raw):
        raise StoredZipError(f"entry {member.name!r} is truncated")
    signature, n_name, n_extra = _LOCAL.unpack_from(local)
    if signature != b"PK\x03\x04" or n_name != len(raw) or local[_LOCAL.size :] != raw:
        raise StoredZipError(
            f"entry {member.name!r} has a local header that is not its own (forged or overlapping entries)"
        )
    start: int = member.header_offset + _LOCAL.size + n_name + n_extra
    if start + member.size > end:
        raise StoredZipError(f"entry {member.name!r} is truncated")
    return start


def _crc_checked(data: bytearray, member: Member) -> bytearray:
    if zlib.crc32(data) != member.crc:
        raise StoredZipError(f"entry {member.name!r} fails its CRC-32 check (a corrupt file)")
    return data
