# Loads the printerfact pytest plugin (testscripts/tests.toml -> VM test items; see
# src/printerfact/pytest_plugin.py) and pytester, which tests/test_pytest_plugin.py uses.
pytest_plugins = ["printerfact.pytest_plugin", "pytester"]


def pytest_report_header() -> str:
    """Which Linux each path builds: the portable source (Debian's, which its security updates
    move) and the Nix pin.  tests/nix/test_kernel_versions.py warns when they differ."""
    try:
        from tests.nix.kernel_versions import versions

        return versions().report()
    except Exception as e:  # a report line must never stop the run
        return f"Linux: versions unknown ({type(e).__name__}: {e})"
