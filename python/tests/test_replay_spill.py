import os

import pytest

from kiln_harness.replay import read_spilled_body


def test_a_spill_in_the_scratch_dir_is_read_and_removed(tmp_path):
    path = tmp_path / "body-12-1.bin"
    path.write_bytes(b"payload")
    assert read_spilled_body(str(path), str(tmp_path)) == b"payload"
    assert not path.exists()


@pytest.mark.parametrize("name", ["secret.txt", "body-1-1.bin.bak", "../body-1-1.bin"])
def test_a_forged_body_file_elsewhere_is_neither_read_nor_deleted(tmp_path, name):
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    target = (scratch / name).resolve()
    target.write_bytes(b"not yours")
    with pytest.raises(ValueError, match="refused a report body file"):
        read_spilled_body(str(scratch / name), str(scratch))
    assert target.read_bytes() == b"not yours"


def test_a_symlink_named_like_a_spill_is_not_followed(tmp_path):
    secret = tmp_path / "secret"
    secret.write_bytes(b"hunter2")
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    os.symlink(secret, scratch / "body-1-1.bin")
    with pytest.raises(OSError):
        read_spilled_body(str(scratch / "body-1-1.bin"), str(scratch))
    assert secret.read_bytes() == b"hunter2"
