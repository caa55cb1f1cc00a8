"""`printerfact`: list, check, build and run the VM tests of testscripts/tests.toml.

Options take their defaults from environment variables (named in `--help`), as nixpkgs'
driver does, so CI can set them once; a flag given on the command line always wins.
Exit status, as nixpkgs' driver exits for one test: 0 all passed; 1 a static check or a test
failed (or its VM broke); 143 a test reached its global timeout (the others still run); 2 usage
or build error; 130 interrupted (Ctrl-C), 143 terminated (SIGTERM): the remaining tests do not
run.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from printerfact import repl, runner
from printerfact.debugging import cli as debugging_cli
from printerfact.driver import snapshot_boot
from printerfact.driver.errors import Terminated
from printerfact.host import cache_gc
from printerfact.host.provision import ProvisionError
from printerfact.kernel import flavour
from printerfact.kernel.__main__ import main as build_main
from printerfact.kernel.artifacts import BUILD_ERRORS, Artifacts, current_entries, ensure_artifacts
from printerfact.nodes import (
    DEFAULT_GLOBAL_TIMEOUT,
    DEFAULT_TESTS_FILE,
    NodeDescriptionError,
    NodeSpec,
    TestSpec,
    load_tests,
)
from printerfact.vm.kvm_probe import ENV as ACCEL_ENV
from printerfact.vm.qemu_argv import Accel, render


def _env(parser: argparse.ArgumentParser, *flags: str, var: str, default: Any, **kw: Any) -> None:
    """An option whose default comes from `$var` (argparse applies `type` to string defaults)."""
    value = os.environ.get(var, default)
    kw["help"] = f"{kw.get('help', '')} (env {var}; default: {value})"
    parser.add_argument(*flags, default=value, **kw)


def _add_selection(p: argparse.ArgumentParser) -> None:
    p.add_argument("tests", nargs="*", metavar="TEST", help="tests to use (default: all)")


def _add_out(p: argparse.ArgumentParser) -> None:
    _env(
        p,
        "-o",
        "--output-directory",
        var="PRINTERFACT_OUT",
        default="out",
        type=Path,
        help="logs, VM state and JUnit go here (<dir>/<test>/)",
    )


def _add_flavours(p: argparse.ArgumentParser) -> None:
    _env(
        p,
        "--flavour",
        var=flavour.ENV,
        default=flavour.DEFAULT,
        type=_flavour_list,
        help=f"kernel flavour(s), comma-separated: {', '.join(flavour.FLAVOURS)}",
    )


def _flavour_list(value: str) -> list[str]:
    try:
        return flavour.names(value)
    except flavour.UnknownFlavour as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="printerfact", description=__doc__.split("\n")[0])
    _env(
        parser,
        "--tests-file",
        var="PRINTERFACT_TESTS_FILE",
        default=str(DEFAULT_TESTS_FILE),
        type=Path,
        help="node descriptions",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    sub.add_parser("list", help="tests and their nodes")

    chk = sub.add_parser("check", help="static checks only (pyflakes + mypy, as NixOS)")
    _add_selection(chk)

    bld = sub.add_parser("build", help="build kernel, module and image (or take them from cache)")
    bld.add_argument("-j", "--jobs", type=int, help="parallel kernel build jobs")
    _add_flavours(bld)

    cch = sub.add_parser("cache", help="the build cache's entries (list), or remove the stale (gc)")
    cch.add_argument("action", nargs="?", choices=["list", "gc"], default="list")
    cch.add_argument("-n", "--dry-run", action="store_true", help="gc: say what would go")

    run = sub.add_parser("run", help="static checks, build, then each test under its own driver")
    _add_selection(run)
    _add_out(run)
    _add_flavours(run)
    run.add_argument(
        "-I",
        "--interactive",
        action="store_true",
        help="a REPL with the driver's symbols instead of running the script",
    )
    run.add_argument(
        "-K", "--keep-vm-state", action="store_true", help="re-use VM state from a previous run"
    )
    run.add_argument(
        "--snapshots",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="restore each node from a saved booted state (saved by the first run) instead of"
        " booting it (default: $PRINTERFACT_SNAPSHOTS, else off)",
    )
    _env(
        run,
        "--junit-xml",
        var="PRINTERFACT_JUNIT_XML",
        default=None,
        type=Path,
        help="JUnit XML (relative to the output directory): a suite per test, a case per subtest",
    )
    run.add_argument(
        "--global-timeout",
        type=int,
        default=None,
        help="seconds for each test as a whole (default: the test's globalTimeout in tests.toml,"
        f" else ${runner.GLOBAL_TIMEOUT_ENV}, else {DEFAULT_GLOBAL_TIMEOUT})",
    )
    run.add_argument(
        "--dry-run", action="store_true", help="print each node's QEMU command line, boot nothing"
    )
    debugging_cli.add_run_options(run)
    run.add_argument(
        "--skip-checks",
        action="store_true",
        help="skip the static checks (NixOS would still run them)",
    )
    debugging_cli.add_attach_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "attach":  # a running test's nodes: no tests file needed
        return debugging_cli.cmd_attach(args)
    try:
        tests = load_tests(args.tests_file)
        selected = runner.select(tests, getattr(args, "tests", []))
    except (NodeDescriptionError, KeyError) as e:
        print(f"printerfact: {e.args[0]}", file=sys.stderr)
        return 2
    return COMMANDS[args.command](args, selected)


def cmd_list(args: argparse.Namespace, tests: list[TestSpec]) -> int:
    for test in tests:
        print(f"{test.name}  ({test.script.name})")
        for node in test.nodes:
            print(f"  {node.name:<12} {_describe(test, node)}")
    return 0


def _describe(test: TestSpec, node: NodeSpec) -> str:
    parts = [", ".join(test.address(node.name, v) for v in node.vlans) or "no network"]
    parts.append(f"{node.cpus} cpu, {node.memory_mb} MiB")
    parts.append("module at boot" if node.module_at_boot else "module not loaded")
    if node.users:
        parts.append("users " + ",".join(node.users))
    if node.services:
        parts.append("services " + ",".join(node.services))
    return "; ".join(parts)


def cmd_check(args: argparse.Namespace, tests: list[TestSpec]) -> int:
    if not _prepared(tests):
        return 2
    return 0 if _static_checks(tests) else 1


def _prepared(tests: list[TestSpec]) -> bool:
    """Each test's extraPythonPackages installed (mypy must see them too, as nixpkgs' does)."""
    try:
        for test in tests:
            runner.prepare(test)
    except ProvisionError as e:
        print(f"printerfact: {e}", file=sys.stderr)
        return False
    return True


def _static_checks(tests: list[TestSpec]) -> bool:
    try:
        from printerfact.checks import check, evaluation_warnings
    except ImportError as e:  # mypy and pyflakes come with the `test` extra
        print(f"printerfact: static checks need mypy and pyflakes: {e}", file=sys.stderr)
        return False
    for warning in evaluation_warnings(tests):  # as nixpkgs warns while it evaluates
        print(f"printerfact: warning: {warning}", file=sys.stderr)
    try:
        findings = check(tests)
    except RuntimeError as e:  # mypy itself did not run: say so, do not pretend a verdict
        print(f"printerfact: {e}", file=sys.stderr)
        return False
    for f in findings:
        print(f, file=sys.stderr)
    verdict = "failed" if findings else "passed"
    print(f"static checks {verdict}: {len(tests)} testscript(s), {len(findings)} finding(s)")
    return not findings


def cmd_build(args: argparse.Namespace, tests: list[TestSpec]) -> int:
    # Same as `python -m printerfact.kernel`: builds everything or takes it from the cache.
    jobs = ["-j", str(args.jobs)] if args.jobs else []
    for name in args.flavour:
        status = build_main([*jobs, "--flavour", name])
        if status:
            return status
    notice = cache_gc.pile_up_notice(cache_gc.entries(current_entries()))
    if notice:
        print(notice, file=sys.stderr)
    return 0


def cmd_cache(args: argparse.Namespace, tests: list[TestSpec]) -> int:
    try:
        found = cache_gc.entries(current_entries())
    except BUILD_ERRORS as err:  # the current keys need the toolchain and the kernel source
        print(f"printerfact: cannot tell the current entries: {err}", file=sys.stderr)
        return 2
    if args.action == "list":
        print(cache_gc.table(found))
        return 0
    if args.dry_run:
        gone = cache_gc.stale(found)
    else:
        gone = cache_gc.collect(found)
    for e in gone:
        print(f"{'would remove' if args.dry_run else 'removed'} {e.kind}/{e.path.name}"
              f" ({cache_gc.human(e.size)})")  # fmt: skip
    kept = [e for e in found if e not in gone]
    print(f"{len(gone)} entries ({cache_gc.human(sum(e.size for e in gone))})"
          f" {'to remove' if args.dry_run else 'removed'};"
          f" {len(kept)} kept ({cache_gc.human(sum(e.size for e in kept))})")  # fmt: skip
    return 0


def cmd_run(args: argparse.Namespace, tests: list[TestSpec]) -> int:
    flavours: list[str] = args.flavour
    if args.interactive and (len(tests) != 1 or len(flavours) != 1):
        print("printerfact: --interactive takes exactly one TEST and one flavour", file=sys.stderr)
        return 2
    refused = debugging_cli.refuse(args)
    if refused:
        print(f"printerfact: {refused}", file=sys.stderr)
        return 2
    if not _prepared(tests):
        return 2
    if not args.skip_checks and not _static_checks(tests):
        return 1
    builds = [_artifacts(f) for f in flavours]
    if None in builds:
        return 2
    out: Path = args.output_directory
    per_flavour = [a for a in builds if a is not None]
    if args.dry_run:
        return _dry_run(tests, per_flavour, out)
    if args.interactive:
        return _interactive(tests[0], per_flavour[0], args)
    outcomes: list[runner.Outcome] = []
    per_test: dict[str, Path] = {}
    run_one: Callable[..., runner.Outcome] = runner.run_one
    if args.debug_on_failure:
        from functools import partial

        from printerfact.debugging import failure

        run_one = partial(failure.run_one, gdb=args.gdb)
    try:
        for artifacts in per_flavour:
            for test in tests:
                test_dir = runner.test_out_dir(out, test, artifacts.flavour)
                junit = test_dir / "junit.xml" if args.junit_xml else None
                outcome = run_one(
                    test,
                    artifacts,
                    out,
                    keep_vm_state=args.keep_vm_state,
                    global_timeout=args.global_timeout,
                    junit_xml=junit,
                    snapshots=args.snapshots,
                )
                outcomes.append(outcome)
                per_test[outcome.test] = test_dir / "junit.xml"
                if outcome.detail:
                    print(f"{outcome.test}: {outcome.detail}", file=sys.stderr)
    except KeyboardInterrupt:  # the driver has stopped its VMs; report what ran
        print("printerfact: interrupted", file=sys.stderr)
        print(runner.summary_table(outcomes))
        return 130
    except Terminated:  # SIGTERM: the driver has stopped its VMs; run nothing more
        print("printerfact: terminated (SIGTERM)", file=sys.stderr)
        print(runner.summary_table(outcomes))
        return 143
    if args.junit_xml:
        # Relative to the output directory, as nixpkgs' driver does (an absolute path stays).
        runner.merge_junit(outcomes, per_test, out / args.junit_xml)
    print(runner.summary_table(outcomes))
    return runner.exit_status(outcomes)


def _artifacts(name: str) -> Artifacts | None:
    try:
        return ensure_artifacts(name)
    except BUILD_ERRORS as e:
        print(f"printerfact: build failed: {e}", file=sys.stderr)
        return None


def _dry_run(tests: list[TestSpec], builds: list[Artifacts], out: Path) -> int:
    """Each node's QEMU command, as the driver would run it; boots nothing, not even a KVM probe.

    The node initrds are written under `<out>/<test>/vm-state-<node>/`, so the printed paths
    exist after the run.  The accelerator is $PRINTERFACT_ACCEL if it names one, else tcg.
    """
    wanted = os.environ.get(ACCEL_ENV, "auto")
    accel: Accel = "kvm" if wanted == "kvm" else "tcg"
    if wanted not in ("kvm", "tcg"):
        print(
            f"printerfact: --dry-run shows -accel tcg ({ACCEL_ENV}={wanted}: a real run may"
            " choose kvm after probing it; set kvm or tcg to choose)",
            file=sys.stderr,
        )
    for artifacts in builds:
        for test in tests:
            # keep_vm_state: the node state (the initrds) lives in the output directory, not in
            # the driver's private directory that is removed on exit.
            test_dir = runner.test_out_dir(out, test, artifacts.flavour)
            with runner.driver(
                test, artifacts, test_dir, keep_vm_state=True, accel=accel
            ) as driver:
                for m in driver.machines:
                    m.prepare_initrd()
                for name, argv in driver.qemu_command_lines().items():
                    print(f"# {runner.label(test, artifacts.flavour)}: {name}")
                    print(render(argv))
    return 0


def _interactive(test: TestSpec, artifacts: Artifacts, args: argparse.Namespace) -> int:
    out = runner.test_out_dir(args.output_directory, test, artifacts.flavour)
    out.mkdir(parents=True, exist_ok=True)
    with runner.driver(
        test,
        artifacts,
        out,
        keep_vm_state=args.keep_vm_state,
        global_timeout=runner.global_timeout_of(test, args.global_timeout),
        snapshots=snapshot_boot.cache_dir(args.snapshots),
    ) as driver:
        extras = debugging_cli.interactive_symbols(driver, artifacts, args.gdb)
        repl.embed({**driver.test_symbols(), **extras}, out / ".printerfact-history")
    return 0


Command = Callable[[argparse.Namespace, list[TestSpec]], int]
COMMANDS: dict[str, Command] = {
    "list": cmd_list,
    "check": cmd_check,
    "build": cmd_build,
    "run": cmd_run,
    "cache": cmd_cache,
}

if __name__ == "__main__":
    sys.exit(main())
