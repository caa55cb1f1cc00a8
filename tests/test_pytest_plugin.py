"""The pytest plugin, driven by pytester on a tiny tests.toml: collection and check failures."""

from __future__ import annotations

from pathlib import Path

import pytest

from printerfact import nodes, pytest_plugin, runner

TOML = """\
[tests.alpha.nodes.machine]
[tests.beta.nodes.server]
[tests.beta.nodes.client]
"""


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makefile(".toml", tests=TOML)
    pytester.makepyfile(alpha='machine.succeed("true")\n', beta='server.succeed("true")\n')
    return pytester


def test_each_test_of_tests_toml_is_an_item_per_flavour(project: pytest.Pytester) -> None:
    result = project.runpytest("-p", "printerfact.pytest_plugin", "--collect-only", "-q")
    result.stdout.fnmatch_lines(
        [
            "tests.toml::alpha[[]default[]]",
            "tests.toml::alpha[[]debug[]]",
            "tests.toml::beta[[]default[]]",
            "tests.toml::beta[[]debug[]]",
            "*4 tests collected*",
        ]
    )


def test_flavours_are_selected_by_option_and_environment(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    plugin = ("-p", "printerfact.pytest_plugin", "--collect-only", "-q")
    result = project.runpytest(*plugin, "--printerfact-flavours", "debug")
    result.stdout.fnmatch_lines(["tests.toml::alpha[[]debug[]]", "*2 tests collected*"])
    monkeypatch.setenv(pytest_plugin.FLAVOURS_ENV, "default")
    result = project.runpytest(*plugin)
    result.stdout.fnmatch_lines(["tests.toml::alpha[[]default[]]", "*2 tests collected*"])
    result = project.runpytest(*plugin, "--printerfact-flavours", "fast")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*unknown flavour(s) fast; known: default, debug*"])


def test_items_are_marked_vm(project: pytest.Pytester) -> None:
    result = project.runpytest(
        "-p", "printerfact.pytest_plugin", "-m", "not vm", "--strict-markers", "tests.toml"
    )
    result.assert_outcomes(deselected=4)


def test_no_items_without_a_tests_toml(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(alpha="start_all()\n")
    result = pytester.runpytest("-p", "printerfact.pytest_plugin", "--collect-only", "-q")
    assert result.ret == pytest.ExitCode.NO_TESTS_COLLECTED


def test_static_check_failure_fails_the_item_before_any_build(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_build(config: object, flavour: str) -> None:
        raise AssertionError("must not build when the static checks fail")

    monkeypatch.setattr(pytest_plugin, "_artifacts", no_build)
    project.makepyfile(alpha='start_all()\nmachine.succed("true")\n')
    out = project.path / "o"
    result = project.runpytest(
        "-p", "printerfact.pytest_plugin", f"--printerfact-out={out}", "tests.toml::alpha[default]"
    )
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["*static checks failed (1 finding(s)):*", f'*{project.path}/alpha.py:2: *"succed"*']
    )
    result.stdout.no_fnmatch_line("*must not build*")


def test_skip_lint_is_honoured_with_nixpkgs_warning(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pytest_plugin, "_artifacts", lambda config, flavour: None)
    monkeypatch.setattr(runner, "execute", lambda *a, **k: None)
    project.makefile(".toml", tests="[tests.alpha]\nskipLint = true\n[tests.alpha.nodes.machine]\n")
    project.makepyfile(alpha="import os.path as unused\n")  # only pyflakes minds
    result = project.runpytest("-p", "printerfact.pytest_plugin", "tests.toml::alpha[default]")
    result.assert_outcomes(passed=1, warnings=1)
    result.stdout.fnmatch_lines(["*UserWarning: alpha: Linting is disabled*"])


def test_driver_failure_shows_script_frames_error_and_console_tail(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    from printerfact.driver.errors import RequestedAssertionFailed

    def fake_execute(test: nodes.TestSpec, artifacts: object, out_dir: Path, **_: object) -> None:
        # What the driver leaves behind and raises when a `succeed` fails.
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / "machine.console.log").write_text("booted\nprinterfact: oops\n")

        def succeed(cmd: str) -> None:
            raise RequestedAssertionFailed(f"command `{cmd}` failed (exit code 1)")

        exec(compile(test.script.read_text(), str(test.script), "exec"), {"succeed": succeed})

    # Patched through modules the plugin holds (pytester drops modules first imported in a
    # run, so a dotted path could patch a stale copy).
    monkeypatch.setattr(runner, "execute", fake_execute)
    monkeypatch.setattr(pytest_plugin, "require_clean", lambda *a, **k: None)
    monkeypatch.setattr(pytest_plugin, "_artifacts", lambda config, flavour: "artifacts")
    project.makepyfile(alpha='x = 1\nsucceed("cat /dev/printerfact")\n')
    out = project.path / "o"
    result = project.runpytest(
        "-p", "printerfact.pytest_plugin", f"--printerfact-out={out}", "tests.toml::alpha[default]"
    )
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "testscript traceback (most recent call last):",
            f'*{project.path}/alpha.py:2: succeed("cat /dev/printerfact")',
            "RequestedAssertionFailed: command `cat /dev/printerfact` failed (exit code 1)",
            f"--- last 2 lines of {out}/alpha/machine.console.log ---",
            "booted",
            "printerfact: oops",
        ]
    )


def test_console_tail_shows_only_console_logs(tmp_path: Path) -> None:
    out = tmp_path / "t"
    out.mkdir()
    (out / "machine.console.log").write_text("".join(f"line {i}\n" for i in range(100)))
    (out / "driver.log").write_text("not a console\n")
    tail = pytest_plugin.console_tails(out, lines=3)
    assert tail[1:] == ["line 97", "line 98", "line 99"]
    assert "machine.console.log" in tail[0] and "driver.log" not in "".join(tail)


def test_sigterm_in_a_test_stops_the_session(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A real Driver (no VM is started) gets a real SIGTERM: no further item may run."""
    from printerfact.kernel.artifacts import Artifacts

    tmp = project.path
    base_image = tmp / "initrd.cpio"
    base_image.write_bytes(b"")
    fake = Artifacts(tmp / "vmlinux", "6.12.0", tmp, tmp / "printerfact.ko", base_image)
    monkeypatch.setattr(pytest_plugin, "require_clean", lambda *a, **k: None)
    monkeypatch.setattr(pytest_plugin, "_artifacts", lambda config, flavour: fake)
    monkeypatch.setenv("PRINTERFACT_ACCEL", "tcg")
    marker = tmp / "beta-ran"
    project.makepyfile(
        alpha="import os, signal\nos.kill(os.getpid(), signal.SIGTERM)\n",
        beta=f"open({str(marker)!r}, 'w').close()\n",
    )
    result = project.runpytest(
        "-p", "printerfact.pytest_plugin", f"--printerfact-out={tmp / 'o'}", "tests.toml"
    )
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*Terminated: the driver got SIGTERM*"])
    result.stdout.fnmatch_lines(["*Interrupted: printerfact: terminated (SIGTERM)*"])
    assert not marker.exists()
