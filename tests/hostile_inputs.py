"""Hostile inputs, built on demand: run zips and run folders that lie, and images that are bombs.

Shared by the regression tests and ``bench/attack_inputs.py``. Every maker returns bytes (or writes a
folder) from a good run's files, so each case differs from a loadable run in one way only.
"""

from __future__ import annotations

import io
import json
import struct
import zipfile
import zlib
from pathlib import Path
from typing import Callable

RUN_FILES = ("config.json", "history.json", "model.safetensors", "optimizer.safetensors", "optimizer.json")


def run_files(run_dir: Path) -> dict[str, bytes]:
    """The data files of a run folder, by their name inside the folder."""
    run_dir = Path(run_dir)
    files = {name: (run_dir / name).read_bytes() for name in RUN_FILES if (run_dir / name).is_file()}
    for grid in sorted((run_dir / "samples").glob("epoch_*.png")):
        files[f"samples/{grid.name}"] = grid.read_bytes()
    return files


def zip_of(files: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", method) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def write_folder(files: dict[str, bytes], run_dir: Path) -> Path:
    for name, data in files.items():
        (run_dir / name).parent.mkdir(parents=True, exist_ok=True)
        (run_dir / name).write_bytes(data)
    return run_dir


# -- one JSON field wrong --------------------------------------------------------------------------
def _edit_json(files: dict[str, bytes], name: str, edit: Callable[[dict], None]) -> dict[str, bytes]:
    value = json.loads(files[name])
    edit(value)
    return {**files, name: json.dumps(value).encode()}


def _set(path: tuple, value):
    def edit(document: dict) -> None:
        target = document
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
    return edit


def huge_png(width: int = 30000, height: int = 30000) -> bytes:
    """A valid 1-bit PNG of width x height pixels that is only about a megabyte on disk."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    row = b"\x00" * (1 + (width + 7) // 8)  # filter byte + packed bits
    compressor, parts = zlib.compressobj(9), []
    for _ in range(height):
        parts.append(compressor.compress(row))
    parts.append(compressor.flush())
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", b"".join(parts)) + chunk(b"IEND", b"")


# Bad run *contents* (valid zip, lying files): the import must refuse them, and the same files
# placed straight into the runs folder must be listed as unreadable without breaking any page.
BAD_RUN_CONTENTS: dict[str, Callable[[dict[str, bytes]], dict[str, bytes]]] = {
    "config training is a list": lambda f: _edit_json(f, "config.json", _set(("training",), [1])),
    "config data is a list": lambda f: _edit_json(f, "config.json", _set(("data",), ["x"])),
    "config model is a string": lambda f: _edit_json(f, "config.json", _set(("model",), "x")),
    "config unknown family": lambda f: _edit_json(f, "config.json", _set(("family",), "gpt")),
    "config epochs is text": lambda f: _edit_json(f, "config.json", _set(("training", "epochs"), "ten")),
    "config image 3000x3000": lambda f: _edit_json(f, "config.json", _set(("model", "image_shape"), [1, 3000, 3000])),
    "config image 100000x100000": lambda f: _edit_json(f, "config.json",
                                                       _set(("model", "image_shape"), [3, 100000, 100000])),
    "config 10^10 parameters": lambda f: _edit_json(f, "config.json", _set(("model", "hidden"), [100000, 100000])),
    "config nested 100,000 deep": lambda f: {**f, "config.json": b"[" * 100_000 + b"]" * 100_000},
    "config not JSON": lambda f: {**f, "config.json": b"{not json"},
    "config data path outside": lambda f: _edit_json(f, "config.json",
                                                     _set(("data",), {"name": "folder", "path": "/etc"})),
    "history odd epoch entries": lambda f: _edit_json(f, "history.json", _set(("epochs",), [1, "x", None,
                                                                                       {"train_loss": "abc"}])),
    "history is a list": lambda f: {**f, "history.json": b"[1, 2, 3]"},
    "history 40 MB": lambda f: _edit_json(f, "history.json", _set(("steps",), [{"step": i, "loss": 0.5}
                                                                               for i in range(1_500_000)])),
    "sample PNG 30000x30000": lambda f: {**f, "samples/epoch_002.png": huge_png()},
    "weights not safetensors": lambda f: {**f, "model.safetensors": b"\x80\x04K\x01." * 10},
}


# -- zips broken at the archive level ---------------------------------------------------------------
def _patch_headers(data: bytes, member: str, patch: Callable[[bytearray, int, int], None]) -> bytes:
    """Apply ``patch(raw, local_header_offset, central_header_offset)`` for one member."""
    raw = bytearray(data)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        local = archive.getinfo(member).header_offset
    central = raw.find(b"PK\x01\x02")
    while struct.unpack("<I", raw[central + 42:central + 46])[0] != local:  # the entry pointing at it
        central = raw.find(b"PK\x01\x02", central + 4)
        assert central != -1, f"no central directory entry for {member}"
    patch(raw, local, central)
    return bytes(raw)


def bad_crc(data: bytes, member: str = "config.json") -> bytes:
    def patch(raw, local, central):
        raw[local + 14:local + 18] = raw[central + 16:central + 20] = b"\x00\x00\x00\x00"
    return _patch_headers(data, member, patch)


def encrypted_flag(data: bytes, member: str = "config.json") -> bytes:
    def patch(raw, local, central):
        raw[local + 6] |= 1
        raw[central + 8] |= 1
    return _patch_headers(data, member, patch)


def unknown_method(data: bytes, member: str = "config.json") -> bytes:
    def patch(raw, local, central):
        raw[local + 8:local + 10] = raw[central + 10:central + 12] = struct.pack("<H", 77)
    return _patch_headers(data, member, patch)


def lying_size(data: bytes, member: str = "config.json", size: int = 10) -> bytes:
    def patch(raw, local, central):
        raw[local + 22:local + 26] = raw[central + 24:central + 28] = struct.pack("<I", size)
    return _patch_headers(data, member, patch)


def corrupt_deflate(data: bytes, member: str = "model.safetensors") -> bytes:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        info = archive.getinfo(member)
    raw = bytearray(data)
    name_length, extra_length = struct.unpack("<HH", raw[info.header_offset + 26:info.header_offset + 30])
    start = info.header_offset + 30 + name_length + extra_length
    end = start + info.compress_size  # stay inside this member's compressed bytes
    raw[start:end] = b"\xff" * (end - start)
    return bytes(raw)


def many_members(files: dict[str, bytes], count: int = 50_000) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
        for index in range(count):
            archive.writestr(f"extra/{index}.txt", b"")
    return buffer.getvalue()


BAD_RUN_ZIPS: dict[str, Callable[[dict[str, bytes]], bytes]] = {
    "zip bad CRC": lambda f: bad_crc(zip_of(f)),
    "zip encrypted flag": lambda f: encrypted_flag(zip_of(f)),
    "zip unknown compression method": lambda f: unknown_method(zip_of(f)),
    "zip lying size": lambda f: lying_size(zip_of(f)),
    "zip corrupt deflate data": lambda f: corrupt_deflate(zip_of(f)),
    "zip 50,000 members": lambda f: many_members(f),
    "zip member ../../escape": lambda f: zip_of({**f, "../../escape.json": b"{}"}),
    "zip holds a pickle": lambda f: zip_of({**f, "model.pt": b"\x80\x04K\x01."}),
    "zip truncated": lambda f: zip_of(f)[: len(zip_of(f)) // 2],
    "not a zip": lambda f: b"this is plain text, not a zip archive",
}


def image_zip(images: dict[str, bytes], broken: str | None = None) -> bytes:
    """A zip of images for folder/tile datasets; ``broken`` names an archive fault for the first one."""
    data = zip_of(images)
    first = next(iter(images))
    faults = {"bad CRC": bad_crc, "encrypted flag": encrypted_flag, "unknown method": unknown_method,
              "lying size": lying_size, "corrupt deflate": corrupt_deflate}
    return faults[broken](data, first) if broken else data
