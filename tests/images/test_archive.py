"""The one zip reader: every broken or hostile zip ends in one clear ArchiveError naming the member."""

from __future__ import annotations

import io
import zipfile

import pytest
from hostile_inputs import bad_crc, corrupt_deflate, encrypted_flag, lying_size, unknown_method, zip_of

from gen_core.errors import ArchiveError
from gen_core.images.archive import SafeZip

FILES = {"a.png": b"x" * 2000, "config.json": b"{}" * 300, "model.safetensors": bytes(range(256)) * 20}


@pytest.mark.parametrize("damage, message", [
    (bad_crc, "'config.json' in the zip is damaged (its checksum does not match)"),
    (lying_size, "'config.json' in the zip is damaged (its checksum does not match)"),
    (encrypted_flag, "'config.json' in the zip is password-protected"),
    (unknown_method, "'config.json' in the zip uses a compression method this app cannot read"),
    (corrupt_deflate, "'model.safetensors' in the zip is damaged (its compressed data is corrupt"),
], ids=lambda value: getattr(value, "__name__", ""))
def test_a_damaged_member_is_one_clear_error_and_the_others_still_read(damage, message):
    with SafeZip(damage(zip_of(FILES))) as archive:
        readable = {}
        for member in archive.members:
            try:
                readable[member.name] = archive.read(member)
            except ArchiveError as error:
                assert message in str(error)
                broken = member.name
        assert set(readable) == set(FILES) - {broken}
        assert all(readable[name] == FILES[name] for name in readable)


def test_not_a_zip_and_a_truncated_zip_are_refused():
    for data in (b"plain text", zip_of(FILES)[:200], b""):
        with pytest.raises(ArchiveError, match="not a zip archive"):
            SafeZip(data)


def test_member_count_is_read_from_the_end_record_before_anything_else():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for index in range(300):
            archive.writestr(f"f{index}.txt", b"")
    with pytest.raises(ArchiveError, match="holds 300 entries; at most 100"):
        SafeZip(buffer.getvalue(), max_members=100)


def test_sizes_are_checked_from_the_declared_sizes_before_reading():
    bomb = zip_of({"zeros.bin": b"\0" * 5_000_000})
    assert len(bomb) < 10_000
    with pytest.raises(ArchiveError, match="unpacks to more than 1 MB"):
        SafeZip(bomb, max_total_bytes=2**20)
    with SafeZip(bomb) as archive, pytest.raises(ArchiveError, match="above the 1 MB limit for one file"):
        archive.read(archive.members[0], max_bytes=2**20)


def test_unsafe_names_are_set_aside_and_clutter_skipped():
    data = zip_of({"../../escape.txt": b"x", "/etc/cron.d/x": b"x", "C:/win.txt": b"x", "ok/a.png": b"x",
                   "__MACOSX/ok/._a.png": b"x", "ok/.DS_Store": b"x", "ok/.lock": b"x"})
    with SafeZip(data) as archive:
        assert [member.name for member in archive.members] == ["ok/a.png"]
        assert sorted(archive.unsafe_names) == ["'../../escape.txt'", "'/etc/cron.d/x'", "'C:/win.txt'"]
