"""Zips in: one reader for every zip that crosses into the app (run imports, image folders, tiles).

Every way a zip can be broken or hostile ends as one ``ArchiveError`` with a short message that
names the member, never a server path: not a zip, cut short, too many members (counted from the
zip's end record before Python's zipfile builds an object per member), more bytes unpacked than
allowed (the declared sizes are checked first, and zipfile never inflates past them), a bad
checksum, corrupt compressed data, a password, a compression method Python cannot read, or a
member name that climbs out of the zip. Members are read into memory, never extracted to disk.
"""

from __future__ import annotations

import io
import lzma
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from gen_core.errors import ArchiveError

MAX_MEMBERS = 200_000
MAX_TOTAL_BYTES = 4 * 2**30


@dataclass(frozen=True)
class Member:
    """A file inside the zip: its safe relative path, declared size, and the entry to read."""

    path: PurePosixPath
    size: int
    info: zipfile.ZipInfo

    @property
    def name(self) -> str:
        return self.path.as_posix()


class SafeZip:
    """An opened zip whose members can be listed and read within limits (use as a context manager)."""

    def __init__(self, source: bytes | Path, max_members: int = MAX_MEMBERS,
                 max_total_bytes: int = MAX_TOTAL_BYTES) -> None:
        file: BinaryIO = io.BytesIO(source) if isinstance(source, (bytes, bytearray)) else open(source, "rb")
        try:
            _check_member_count(file, max_members)
            self._zip = zipfile.ZipFile(file)
        except zipfile.BadZipFile:
            file.close()
            raise ArchiveError("This file is not a zip archive (or it is cut short).") from None
        except BaseException:
            file.close()
            raise
        self._file = file
        self.members, self.unsafe_names = _members(self._zip)
        total = sum(member.size for member in self.members)
        if total > max_total_bytes:
            self.close()
            raise ArchiveError(f"The zip unpacks to more than {max_total_bytes // 2**20:,} MB "
                               f"({total / 2**20:,.0f} MB); that is above the limit.")

    def read(self, member: Member, max_bytes: int | None = None) -> bytes:
        """The member's bytes; any fault in the zip becomes an ArchiveError naming the member."""
        shown = _shown(member.name)
        if max_bytes is not None and member.size > max_bytes:
            raise ArchiveError(f"{shown} in the zip unpacks to {member.size / 2**20:,.1f} MB, above the "
                               f"{max_bytes / 2**20:,.0f} MB limit for one file.")
        try:
            with self._zip.open(member.info) as stream:
                return stream.read(member.size + 1)[: member.size]
        except NotImplementedError:  # a RuntimeError too: caught first
            raise ArchiveError(f"{shown} in the zip uses a compression method this app cannot read; zip it "
                               "again with the standard (deflate) method.") from None
        except RuntimeError as error:
            if "encrypted" in str(error) or "password" in str(error):
                raise ArchiveError(f"{shown} in the zip is password-protected; zip it again without a "
                                   "password.") from None
            raise ArchiveError(f"{shown} in the zip cannot be read ({str(error)[:80]}).") from None
        except zipfile.BadZipFile as error:
            what = "its checksum does not match" if "CRC" in str(error) else "its entry is malformed"
            raise ArchiveError(f"{shown} in the zip is damaged ({what}).") from None
        except (zlib.error, lzma.LZMAError, EOFError, OSError, ValueError):
            raise ArchiveError(f"{shown} in the zip is damaged (its compressed data is corrupt or cut "
                               "short).") from None

    def close(self) -> None:
        self._zip.close()
        self._file.close()

    def __enter__(self) -> "SafeZip":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def is_zip(path: Path) -> bool:
    try:
        return Path(path).is_file() and zipfile.is_zipfile(path)
    except OSError:
        return False


def _check_member_count(file: BinaryIO, max_members: int) -> None:
    """Read the member count from the end record (zipfile's own parser, which also knows ZIP64)."""
    try:
        end_record = zipfile._EndRecData(file)  # noqa: SLF001 (stable since Python 2; no public API)
    except (AttributeError, OSError, ValueError, IndexError):
        return  # zipfile itself will judge the file
    if end_record and end_record[zipfile._ECD_ENTRIES_TOTAL] > max_members:
        raise ArchiveError(f"The zip holds {end_record[zipfile._ECD_ENTRIES_TOTAL]:,} entries; at most "
                           f"{max_members:,} are read.")
    file.seek(0)


def _members(archive: zipfile.ZipFile) -> tuple[list[Member], list[str]]:
    """Files worth reading, and the names refused as unsafe; folders and OS clutter are skipped."""
    members, unsafe = [], []
    for info in archive.infolist():
        path = PurePosixPath(info.filename.replace("\\", "/"))
        if not path.parts:
            continue
        if path.is_absolute() or ".." in path.parts or ":" in path.parts[0]:
            unsafe.append(_shown(info.filename))
            continue
        if info.is_dir() or _is_clutter(path):
            continue
        members.append(Member(path, info.file_size, info))
    return members, unsafe


def _is_clutter(path: PurePosixPath) -> bool:
    """macOS resource forks, .DS_Store, a run folder's .lock and other hidden files."""
    return path.parts[0] == "__MACOSX" or any(part.startswith(".") for part in path.parts)


def _shown(name: str) -> str:
    return repr(name if len(name) <= 80 else name[:79] + "…")
