# Loads the printerfact pytest plugin (testscripts/tests.toml -> VM test items; see
# src/printerfact/pytest_plugin.py) and pytester, which tests/test_pytest_plugin.py uses.
pytest_plugins = ["printerfact.pytest_plugin", "pytester"]
