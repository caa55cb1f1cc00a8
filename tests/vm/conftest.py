"""VM tests: real QEMU guests from the real build artifacts (a build failure errors, no skip)."""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

import pytest

from printerfact import runner
from printerfact.driver.driver import Driver
from printerfact.kernel import artifacts as build_artifacts
from printerfact.nodes import NodeSpec, TestSpec


@pytest.fixture(scope="session")
def artifacts() -> build_artifacts.Artifacts:
    return build_artifacts.ensure_artifacts()


def make_test(tmp: Path, nodes: tuple[NodeSpec, ...], script: str = "") -> TestSpec:
    tmp.mkdir(parents=True, exist_ok=True)
    path = tmp / "testscript.py"
    path.write_text(textwrap.dedent(script))
    return TestSpec(name="vmtest", script=path, nodes=nodes)


DriverFor = Callable[..., AbstractContextManager[Driver]]


@pytest.fixture(scope="session")
def driver_for(artifacts: build_artifacts.Artifacts) -> DriverFor:
    """driver_for(tmp, nodes=(machine,), script="", **Driver kwargs): a Driver context."""

    @contextmanager
    def make(
        tmp: Path,
        nodes: tuple[NodeSpec, ...] = (NodeSpec("machine"),),
        script: str = "",
        **kw: Any,
    ) -> Iterator[Driver]:
        with runner.driver(make_test(tmp, nodes, script), artifacts, tmp / "out", **kw) as d:
            yield d

    return make
