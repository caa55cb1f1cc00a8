"""copy_from_vm's extraction of a guest-made tar stays inside its destination, on every Python."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest

from printerfact.driver.errors import RequestedAssertionFailed
from printerfact.driver.transfer import _extract_untrusted


def _tar(name: str, data: bytes = b"x") -> tarfile.TarFile:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo(name)
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    buf.seek(0)
    return tarfile.open(fileobj=buf)


@pytest.fixture(params=["data_filter", "fallback"])
def python_flavour(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    if request.param == "fallback":  # as on Python < 3.11.4 (Debian 12's 3.11.2)
        monkeypatch.delattr(tarfile, "data_filter", raising=False)
    elif not hasattr(tarfile, "data_filter"):
        pytest.skip("this Python has no tarfile.data_filter")
    return str(request.param)


def test_plain_file_is_extracted(tmp_path: Path, python_flavour: str) -> None:
    _extract_untrusted(_tar("dir/file.txt", b"fact\n"), tmp_path)
    assert (tmp_path / "dir/file.txt").read_bytes() == b"fact\n"


def test_dotdot_is_refused(tmp_path: Path, python_flavour: str) -> None:
    dest = tmp_path / "dest"
    dest.mkdir()
    # tarfile.FilterError exists only where tarfile.data_filter does.
    refusals = (RequestedAssertionFailed, getattr(tarfile, "FilterError", RequestedAssertionFailed))
    with pytest.raises(refusals):
        _extract_untrusted(_tar("../escape.txt"), dest)
    assert not (tmp_path / "escape.txt").exists()


def test_absolute_name_stays_inside(tmp_path: Path, python_flavour: str) -> None:
    name = f"/pf-abs-{tmp_path.name}.txt"
    try:
        _extract_untrusted(_tar(name), tmp_path)  # the data filter strips the slash
    except RequestedAssertionFailed:
        pass  # the fallback refuses it
    assert not Path(name).exists()
