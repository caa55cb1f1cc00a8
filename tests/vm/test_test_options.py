"""runNixOSTest's test options and node names in tests.toml, through `printerfact run` as a
user runs it (a subprocess: exit status and log are what nixpkgs' own checks look at)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytestmark = pytest.mark.vm


def run(tmp_path: Path, toml: str, scripts: dict[str, str]) -> subprocess.CompletedProcess[str]:
    (tmp_path / "tests.toml").write_text(textwrap.dedent(toml))
    for name, text in scripts.items():
        (tmp_path / f"{name}.py").write_text(textwrap.dedent(text))
    argv = [sys.executable, "-m", "printerfact.cli", "--tests-file", str(tmp_path / "tests.toml")]
    argv += ["run", "-o", str(tmp_path / "out"), *scripts]
    return subprocess.run(argv, capture_output=True, text=True, timeout=600)


def test_global_timeout_ends_as_nixpkgs_driver_timeout_check_requires(tmp_path: Path) -> None:
    # nixos/tests/all-tests.nix, driver-timeout: the log says "timeout reached; test
    # terminating" and the status is 143 (nixos/tests/nixos-test-driver/timeout.nix).
    r = run(
        tmp_path,
        """
        [tests.timeout]
        globalTimeout = 5
        [tests.timeout.nodes.machine]
        """,
        {"timeout": 'machine.succeed("sleep 6")\n'},
    )
    assert "timeout reached; test terminating" in r.stderr, r.stderr[-3000:]
    assert r.returncode == 143, (r.returncode, r.stderr[-3000:])
    assert "TIMEOUT" in r.stdout


def test_node_names_host_names_and_script_variables(tmp_path: Path) -> None:
    r = run(
        tmp_path,
        """
        [tests.names.nodes.one_two]
        [tests.names.nodes.a-b]
        [tests.names.nodes.Web1]
        """,
        {
            "names": """
            start_all()
            t.assertEqual(one_two.succeed("hostname"), "one_two\\n")
            t.assertEqual(a_b.succeed("hostname"), "a-b\\n")
            t.assertEqual(Web1.succeed("hostname"), "Web1\\n")
            # Each reaches the others by the name in tests.toml.
            one_two.succeed("ping -c 1 -W 5 a-b", "ping -c 1 -W 5 Web1")
            a_b.succeed("ping -c 1 -W 5 one_two")
            """
        },
    )
    assert r.returncode == 0, r.stderr[-3000:]


def test_a_test_without_nodes_runs(tmp_path: Path) -> None:
    r = run(tmp_path, "[tests.empty]\nnodes = {}\n", {"empty": "t.assertEqual(1 + 1, 2)\n"})
    assert r.returncode == 0, r.stderr[-3000:]
    assert "passed" in r.stdout


def test_extra_python_packages_are_installed_into_the_venv(tmp_path: Path) -> None:
    # A small pure-Python package nothing else in the venv needs; removed first, so the run
    # has to install it (from PyPI, or pip's cache).
    pip = [sys.executable, "-m", "pip"]
    subprocess.run([*pip, "uninstall", "-y", "-q", "tomli-w"], capture_output=True)
    r = run(
        tmp_path,
        """
        [tests.extra]
        extraPythonPackages = ["tomli_w"]
        [tests.extra.nodes.machine]
        """,
        {
            "extra": """
            import tomli_w

            t.assertEqual(tomli_w.dumps({"fact": 1}), "fact = 1\\n")
            machine.succeed("true")
            """
        },
    )
    assert r.returncode == 0, r.stderr[-3000:]
    assert "pip install tomli_w" in r.stderr
    shown = subprocess.run([*pip, "show", "tomli-w"], capture_output=True, text=True)
    assert shown.returncode == 0
