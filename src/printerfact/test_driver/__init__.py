"""nixpkgs' `test_driver` package, naming the portable driver's classes.

A testscript imports it under nixpkgs' names (`from test_driver.machine import Machine`) while
it runs (`printerfact.driver.script_imports`).  Its modules are those of nixos-25.05's and
nixos-26.05's driver alike (`qmp` and `machine.qmp`, `debug` ...); each offers every public
name the stubs (`printerfact.stubs`) give that module in either channel: the portable
driver's own class or function where it has one, else a stand-in that raises `Unavailable`
when used (never at import, as nixpkgs' check accepts the import).  The package's own entry
points (nixpkgs' `main`, `generate_driver_symbols`) are not modelled and not offered.
"""

__all__: list[str] = []
