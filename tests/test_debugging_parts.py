"""The debugging pieces without a VM: the run's channel directory, the gdb command line, the
attach client's marker handling, the CLI's refusals (tests/vm/test_debugging.py boots)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from printerfact import cli
from printerfact.debugging import attach, failure, gdb
from printerfact.vm import channels


def test_a_run_directory_is_listed_and_removed(tmp_path: Path) -> None:
    base = tmp_path / "rt"
    run = channels.RunChannels("t", tmp_path / "out", ["a", "b"], base=base)
    info = json.loads((run.dir / "run.json").read_text())
    assert info["test"] == "t" and set(info["nodes"]) == {"a", "b"}
    assert info["nodes"]["a"]["gdb"] is None
    [found] = channels.runs(base)
    assert found.test == "t" and not found.nodes["a"].is_up()  # no QEMU listens
    run.remove()
    assert not base.exists()  # the base goes with the last run


def test_the_directories_of_dead_drivers_are_swept(tmp_path: Path) -> None:
    base = tmp_path / "rt"
    dead = subprocess.Popen(["true"])
    dead.wait()
    stale = base / f"{dead.pid}-xyz"
    stale.mkdir(parents=True)
    (stale / "run.json").write_text("{}")
    assert channels.runs(base) == []
    assert not stale.exists()


def test_qemu_gets_a_console_a_size_port_and_on_demand_a_gdb_stub(tmp_path: Path) -> None:
    run = channels.RunChannels("t", tmp_path, ["m"], base=tmp_path / "rt")
    try:
        args = " ".join(run.qemu_args("m"))
        assert f"path={run.dir}/m.attach,server=on,wait=off" in args
        assert "virtconsole,chardev=attach,bus=vser0.0,nr=2" in args
        assert f"name={channels.WINSIZE_PORT}" in args
        assert "-gdb" not in args
        run.enable_gdb()
        args = " ".join(run.qemu_args("m"))
        assert f"path={run.dir}/m.gdb,server=on,wait=off -gdb chardev:gdb" in args
        assert "gdb stub" in "\n".join(run.describe())
    finally:
        run.remove()


def test_a_socket_path_too_long_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="too long"):
        channels.RunChannels("t", tmp_path, ["m" * 120], base=tmp_path / "rt")
    assert not (tmp_path / "rt").exists()


def test_add_symbol_file_has_the_loaded_sections(tmp_path: Path) -> None:
    sections = gdb.parse_sections(
        ".text 0xffffffffa0000000\n.init.text 0xffffffffa0008000\n.bss 0xffffffffa0002000\n"
        ".gnu.linkonce.this_module 0xffffffffa0002080\n.symtab 0xffffffffa000a000\n"
    )
    line = gdb.add_symbol_file(Path("/k/printerfact.ko"), sections)
    assert line == (
        "add-symbol-file /k/printerfact.ko 0xffffffffa0000000 -s .bss 0xffffffffa0002000"
        " -s .gnu.linkonce.this_module 0xffffffffa0002080"
    )


def test_the_exit_marker_is_found_across_reads() -> None:
    marker = attach.EXIT_MARKER
    assert attach._partial_marker(b"abc" + marker[:3]) == 3
    assert attach._partial_marker(b"abc") == 0


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--gdb"], "--gdb needs --debug-on-failure or --interactive"),
        (["--debug-on-failure", "-I"], "exclude each other"),
        (["--debug-on-failure"], "--debug-on-failure needs a terminal"),
    ],
)
def test_run_refuses_debugging_flags(
    flags: list[str],
    message: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(failure, "has_terminal", lambda: False)  # as in CI, even under -s
    assert cli.main(["run", *flags, "printerfact"]) == 2
    assert message in capsys.readouterr().err


def test_attach_without_runs_says_so(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Not the user's own runtime directory: a run of theirs at the same time is listed there
    # (a pytest tmp_path is too long for sockets, so XDG_RUNTIME_DIR alone falls back to it).
    monkeypatch.setattr(channels, "runtime_base", lambda: tmp_path / "printerfact")
    assert cli.main(["attach"]) == 0
    assert "no running printerfact runs" in capsys.readouterr().out
    assert cli.main(["attach", "machine"]) == 1
    assert "no running node 'machine'" in capsys.readouterr().err
