"""Writes that leave nothing half-made: exclusive creation, and a full or read-only disk in one line."""

from __future__ import annotations

import errno
import threading

import pytest

from gen_core.atomic import DiskError, create_exclusive, disk_errors


def test_only_one_of_many_creators_gets_a_name(tmp_path):
    results, start = [], threading.Barrier(8)

    def create(index):
        start.wait()
        results.append(create_exclusive(tmp_path / "owner", str(index).encode()))

    threads = [threading.Thread(target=create, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results.count(True) == 1 and [p.name for p in tmp_path.iterdir()] == ["owner"]


@pytest.mark.parametrize("code, words", [(errno.ENOSPC, "is full"), (errno.EROFS, "is read-only"),
                                         (errno.EACCES, "not writable")])
def test_a_full_or_read_only_disk_is_one_sentence_and_leaves_nothing(tmp_path, code, words):
    made = tmp_path / "students" / "ada"
    with pytest.raises(DiskError) as caught:
        with disk_errors("keep your name", made=tmp_path / "students"):
            made.mkdir(parents=True)
            raise OSError(code, "boom", str(made / ".owner"))
    message = str(caught.value)
    assert words in message and str(tmp_path) not in message and "\n" not in message
    assert not (tmp_path / "students").exists()


def test_other_os_errors_are_not_disguised(tmp_path):
    with pytest.raises(FileNotFoundError):
        with disk_errors("read"):
            (tmp_path / "missing").read_text()
