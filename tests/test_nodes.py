"""tests.toml as the portable runner reads it: node names and runNixOSTest's test options."""

from __future__ import annotations

from pathlib import Path

import pytest

from printerfact.nodes import NodeDescriptionError, load_tests, to_json_model


def _load(tmp_path: Path, toml: str) -> dict[str, object]:
    (tmp_path / "t.py").write_text("")
    (tmp_path / "tests.toml").write_text(toml)
    return dict(load_tests(tmp_path / "tests.toml"))


@pytest.mark.parametrize(
    ("name", "python_name"),
    [("one_two", "one_two"), ("a-b", "a_b"), ("Web1", "Web1"), ("1st", "_st"), ("x", "x")],
)
def test_node_names_nixpkgs_accepts(tmp_path: Path, name: str, python_name: str) -> None:
    tests = _load(tmp_path, f'[tests.t.nodes."{name}"]\n')
    model = to_json_model(tests["t"])  # type: ignore[arg-type]
    node = model["nodes"][name]  # type: ignore[index]
    assert (node["hostname"], node["python_name"]) == (name, python_name)


@pytest.mark.parametrize("name", ["-x", "x-", "a.b", "a b", "", "_x", "x" * 64])
def test_node_names_that_are_no_host_name_are_rejected(tmp_path: Path, name: str) -> None:
    with pytest.raises(NodeDescriptionError, match="host name"):
        _load(tmp_path, f'[tests.t.nodes."{name}"]\n')


def test_two_nodes_one_variable_are_rejected(tmp_path: Path) -> None:
    with pytest.raises(NodeDescriptionError, match="one variable"):
        _load(tmp_path, '[tests.t.nodes."a-b"]\n[tests.t.nodes.a_b]\n')


def test_a_test_without_nodes_is_valid(tmp_path: Path) -> None:
    tests = _load(tmp_path, "[tests.t]\nnodes = {}\n")
    assert tests["t"].nodes == ()  # type: ignore[attr-defined]
    assert _load(tmp_path, "[tests.t]\n")["t"].nodes == ()  # type: ignore[attr-defined]


def test_runnixostest_options(tmp_path: Path) -> None:
    t = _load(
        tmp_path,
        "[tests.t]\nglobalTimeout = 5\nskipTypeCheck = true\nskipLint = true\n"
        'extraPythonPackages = ["PyYAML", "typing_extensions"]\n',
    )["t"]
    assert (t.global_timeout, t.skip_type_check, t.skip_lint) == (5, True, True)  # type: ignore[attr-defined]
    model = to_json_model(t)  # type: ignore[arg-type]
    assert model["globalTimeout"] == 5
    # As written: test.nix maps them to nixpkgs' attributes.
    assert model["extraPythonPackages"] == ["PyYAML", "typing_extensions"]
    defaults = to_json_model(_load(tmp_path, "[tests.t]\n")["t"])  # type: ignore[arg-type]
    assert (defaults["globalTimeout"], defaults["skipTypeCheck"], defaults["skipLint"]) == (
        3600,
        False,
        False,
    )


@pytest.mark.parametrize(
    "toml",
    [
        "[tests.t]\nglobalTimeout = 0\n",
        '[tests.t]\nglobalTimeout = "5"\n',
        '[tests.t]\nskipLint = "yes"\n',
        "[tests.t]\nextraPythonPackages = [1]\n",
        '[tests.t]\nextraPythonPackages = ["no spaces"]\n',
        "[tests.t.nodes.class]\n",
        "[tests.t]\nenableOCR = true\n",
    ],
)
def test_bad_options_are_rejected(tmp_path: Path, toml: str) -> None:
    with pytest.raises(NodeDescriptionError):
        _load(tmp_path, toml)
