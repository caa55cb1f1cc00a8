"""`Driver`: runs one test (a TestSpec from tests.toml) on QEMU nodes with nixpkgs' API.

Stable API (the CLI, the REPL and the pytest plugin build on exactly this)::

    with Driver(test, artifacts, out_dir, initrd_for=..., keep_vm_state=False,
                global_timeout=3600, junit_xml=None) as d:
        d.run_tests()          # test_script() under the global timeout
        d.test_script()        # exec the testscript with test_symbols()
        d.test_symbols()       # dict for exec/REPL: the symbols of nixos-25.05 and 26.05
                               # alike (start_all, join_all, subtest, retry, polling_condition,
                               # machines, machines_qemu, machines_nspawn (empty), vlans, t,
                               # log, driver, Machine, BaseMachine, QemuMachine, debug,
                               # create_machine (raises: no NixOS start scripts), test_script,
                               # run_tests, serial_stdout_on/off, os), one Machine per node
                               # (dashes -> "_"), and `machine` when the test has one node
        d.machines (sorted by name, as nixpkgs), d.vlans, d.logger, d.start_all(),
        d.join_all(), d.subtest(name)
        d.qemu_command_lines()  # {node: argv} without starting anything (--dry-run)

Keywords beyond nixpkgs: `initrd_for(node, dest_dir) -> path`, which writes a node's initrd
(required: the runner injects it, `printerfact.runner.driver`), `logger` (default: terminal),
`accel` ("kvm"/"tcg"; default: vm.kvm_probe).

`test_script()` runs the script with nixpkgs' `test_driver` modules importable
(`printerfact.driver.script_imports`).  `test_script()`/`run_tests()` log a failure (for a
RequestedAssertionFailed only the testscript's frames, like nixpkgs) and re-raise it:
RequestedAssertionFailed = the test failed, MachineError (VMCrashed, GlobalTimeout, Terminated,
Unavailable, ...) = the infrastructure broke.  Nothing here calls sys.exit.  Each node keeps its
state directory (initrd, disk) in the private temporary directory, or with `keep_vm_state` in
`<out_dir>/vm-state-<node>`, reused by the next run as nixpkgs' --keep-vm-state does.  `__exit__`
kills every QEMU, stops the VLAN hub and removes the private socket directory, also on Ctrl-C
and SIGTERM (turned into `Terminated` while the driver is entered from the main thread); while
it cleans up, SIGINT and SIGTERM are ignored, so a second Ctrl-C cannot leave a QEMU
behind.  Output: `<out_dir>/<node>.console.log` per node, JUnit XML if asked.
"""

from __future__ import annotations

import _thread
import contextlib
import functools
import os
import shutil
import signal
import tempfile
import threading
import traceback
import unittest
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any, ClassVar, Protocol

from printerfact.driver.debug import DebugAbstract, DebugNop
from printerfact.driver.errors import (
    GlobalTimeout,
    RequestedAssertionFailed,
    Terminated,
    testscript_frames,
)
from printerfact.driver.logger import (
    AbstractLogger,
    CompositeLogger,
    JunitXMLLogger,
    TerminalLogger,
)
from printerfact.driver.machine import NO_SSH_BACKDOOR, SHARED_DIR, Machine, MachineConfig
from printerfact.driver.network import Hub, VLan
from printerfact.driver.polling_condition import PollingCondition
from printerfact.driver.retry import retry
from printerfact.driver.script_imports import nixpkgs_modules
from printerfact.driver.unavailable import unavailable
from printerfact.nodes import NodeSpec, TestSpec
from printerfact.vm.channels import RunChannels
from printerfact.vm.kvm_probe import choose_accel
from printerfact.vm.qemu_argv import Accel, fast_bios


def private_socket_dir() -> Path:
    """A fresh 0700 directory for the run's sockets, short enough for 108-byte socket paths.

    Named after this process, so the directories of drivers that were killed with SIGKILL (the
    one signal that allows no cleanup) are recognised and swept by the next run.
    """
    base = Path(tempfile.gettempdir())
    for stale in base.glob("printerfact-*-*"):
        pid = stale.name.split("-")[1]
        if pid.isdigit() and not Path(f"/proc/{pid}").exists():
            shutil.rmtree(stale, ignore_errors=True)
    return Path(tempfile.mkdtemp(prefix=f"printerfact-{os.getpid()}-"))


class ArtifactsLike(Protocol):
    """What the driver uses of printerfact.kernel.artifacts.Artifacts."""

    @property
    def kernel_image(self) -> Path: ...

    @property
    def kernel_append(self) -> str: ...  # the flavour's kernel arguments


InitrdFn = Callable[[NodeSpec, Path], Path]


class AssertionTester(unittest.TestCase):
    """`t` in testscripts: assert methods raising the driver's assertion error."""

    failureException = RequestedAssertionFailed

    def runTest(self) -> None:  # pragma: no cover - unittest wants one test method
        pass


class Driver:
    # The testscript's symbols, nixos-25.05's and 26.05's alike, besides `t` (an
    # AssertionTester), `driver` (the Driver) and one Machine per node (`machine` too when the
    # test has one): name -> the Driver's attribute that gives it ...
    SCRIPT_ATTRIBUTES: ClassVar[dict[str, str]] = {
        "start_all": "start_all",
        "join_all": "join_all",
        "subtest": "subtest",
        "polling_condition": "polling_condition",
        "machines": "machines",
        "machines_qemu": "machines_qemu",
        "machines_nspawn": "machines_nspawn",
        "vlans": "vlans",
        "log": "logger",
        "create_machine": "create_machine",
        "debug": "debug",
        "test_script": "test_script",
        "run_tests": "run_tests",
        "serial_stdout_on": "serial_stdout_on",
        "serial_stdout_off": "serial_stdout_off",
    }
    # ... and the same values for every driver.  The static checks read both tables (stubs/api.py)
    # without making a Driver.
    SCRIPT_VALUES: ClassVar[dict[str, Any]] = {
        "retry": retry,
        "Machine": Machine,
        "BaseMachine": Machine,
        "QemuMachine": Machine,
        "os": os,
    }

    def __init__(
        self,
        test: TestSpec,
        artifacts: ArtifactsLike,
        out_dir: Path,
        *,
        initrd_for: InitrdFn,
        keep_vm_state: bool = False,
        global_timeout: int = 3600,
        junit_xml: Path | None = None,
        logger: AbstractLogger | None = None,
        accel: Accel | None = None,
        snapshots: Path | None = None,
    ) -> None:
        self.test = test
        self.snapshots = snapshots  # the snapshot cache (driver/snapshot_boot.py), None: off
        self.out_dir = out_dir
        self.global_timeout = global_timeout
        self.keep_vm_state = keep_vm_state
        out_dir.mkdir(parents=True, exist_ok=True)
        loggers: list[AbstractLogger] = [logger or TerminalLogger()]
        if junit_xml is not None:
            loggers.append(JunitXMLLogger(junit_xml, suite=test.name))
        self.logger: AbstractLogger = CompositeLogger(loggers)
        self.polling_conditions: list[PollingCondition] = []
        # nixos-26.05's: the debug hook is off (there is no enableDebugHook here), and there
        # are no containers (a test with some cannot be described in tests.toml).
        self.debug: DebugAbstract = DebugNop()
        self.machines_nspawn: list[Any] = []
        self.last_namespace: dict[str, Any] | None = None  # of the last test_script()
        self.race_timer = self._race_timer()
        self._timed_out = False
        self._cleaning = False
        self._old_sigterm: Any = None
        self._old_sigint: Any = None
        self.tmp_dir = private_socket_dir()
        self.shared_dir = self.tmp_dir / SHARED_DIR  # each Machine makes it: /tmp/shared in guests
        try:
            self.hub = Hub(self.tmp_dir, list(test.vlans), log=self.logger.error)
            self.vlans: list[VLan] = self.hub.vlans
            if accel is None:
                accel = choose_accel(artifacts.kernel_image, self.logger.info)
            # Sorted by name, as nixpkgs' machines (its node attribute set is sorted).
            self.machines = [
                self._machine(n, artifacts, accel, initrd_for)
                for n in sorted(test.nodes, key=lambda n: n.name)
            ]
            # printerfact attach / gdb: the run's channels, removed at cleanup.
            self.channels = RunChannels(test.name, out_dir, [m.name for m in self.machines])
            for m in self.machines:
                m.channels = self.channels
        except BaseException:
            self._cleanup()
            raise

    def _machine(
        self, node: NodeSpec, artifacts: ArtifactsLike, accel: Accel, initrd_for: InitrdFn
    ) -> Machine:
        base = self.out_dir if self.keep_vm_state else self.tmp_dir
        config = MachineConfig(
            node=node,
            kernel=artifacts.kernel_image,
            initrd=functools.partial(initrd_for, node),
            append=artifacts.kernel_append,
            state_dir=base / f"vm-state-{node.name}",
            keep_vm_state=self.keep_vm_state,
            accel=accel,
            node_number=self.test.node_number(node.name),
            vlans=tuple(self.hub.vlan(v) for v in node.vlans),
            bios=fast_bios(),
            snapshots=self.snapshots,
        )
        return Machine(
            config,
            out_dir=self.out_dir,
            socket_dir=self.tmp_dir,
            logger=self.logger,
            callbacks=[self.check_polling_conditions],
        )

    @property
    def machines_qemu(self) -> list[Machine]:
        """nixos-26.05's name: every machine is a QEMU VM here."""
        return self.machines

    def _race_timer(self) -> threading.Timer:
        timer = threading.Timer(self.global_timeout, self.terminate_test)
        timer.daemon = True
        return timer

    def qemu_command_lines(self) -> dict[str, list[str]]:
        """Node name -> the QEMU argv it would start with; starts nothing and builds nothing
        (a machine's initrd path is the one `Machine.prepare_initrd` built, if it ran)
        (render with printerfact.vm.qemu_argv.render for --dry-run)."""
        return {m.name: m.command_line(m.initrd_path) for m in self.machines}

    # --- context manager and cleanup ------------------------------------------------------------

    def __enter__(self) -> Driver:
        if threading.current_thread() is threading.main_thread():
            self._old_sigterm = signal.signal(signal.SIGTERM, self._on_sigterm)
            # Ctrl-C stays KeyboardInterrupt, but not once the cleanup has begun (this closes
            # the gap before __exit__ ignores the signal).  A custom handler is left alone.
            if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
                self._old_sigint = signal.signal(signal.SIGINT, self._on_sigint)
        return self

    def _on_sigint(self, signum: int, frame: FrameType | None) -> None:
        if self._cleaning:
            return
        raise KeyboardInterrupt

    def _on_sigterm(self, signum: int, frame: FrameType | None) -> None:
        if self._cleaning:
            return  # already on the way out; do not break the cleanup itself
        if self._timed_out:
            raise GlobalTimeout(f"global timeout of {self.global_timeout} s reached")
        raise Terminated("the driver got SIGTERM")

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._cleaning = True
        main = threading.current_thread() is threading.main_thread()
        # A second Ctrl-C or SIGTERM must not interrupt the cleanup half-way.  Python runs
        # signal handlers in the main thread whatever thread the kernel picks, so blocking the
        # signals in this thread is not enough: ignore them process-wide until cleanup is done.
        saved: dict[int, Any] = {}
        if main:
            for sig in (signal.SIGINT, signal.SIGTERM):
                saved[sig] = signal.signal(sig, signal.SIG_IGN)
        try:
            try:
                self.logger.info("cleanup")
            except BaseException:
                pass  # a closed stderr must not stop the cleanup
            self._cleanup()
        finally:
            if main:
                if self._old_sigterm is not None:
                    saved[signal.SIGTERM] = self._old_sigterm
                if self._old_sigint is not None:
                    saved[signal.SIGINT] = self._old_sigint
                for signum, handler in saved.items():
                    if handler is not None:  # None: not installed from Python, cannot restore
                        signal.signal(signum, handler)

    def _cleanup(self) -> None:
        # Each step runs even if an earlier one fails, whatever it raises.
        errors: list[str] = []
        timer = getattr(self, "race_timer", None)
        if timer is not None:
            timer.cancel()
        for m in getattr(self, "machines", []):
            try:
                m.release()
            except BaseException as e:
                errors.append(f"error during cleanup of {m.name}: {type(e).__name__}: {e}")
        hub = getattr(self, "hub", None)
        try:
            if hub is not None:
                hub.stop()
        except BaseException as e:
            errors.append(f"error while stopping the VLAN hub: {type(e).__name__}: {e}")
        try:
            channels = getattr(self, "channels", None)
            if channels is not None:
                channels.remove()
        except BaseException as e:
            errors.append(f"error while removing the attach/gdb sockets: {type(e).__name__}: {e}")
        try:
            shutil.rmtree(self.tmp_dir, ignore_errors=True)
        except BaseException as e:
            errors.append(f"error while removing {self.tmp_dir}: {type(e).__name__}: {e}")
        try:
            for err in errors:
                self.logger.error(err)
            self.logger.close()
        except BaseException:
            pass

    # --- the testscript ---------------------------------------------------------------------

    @contextlib.contextmanager
    def subtest(self, name: str) -> Iterator[None]:
        """Group logs under `name` (one JUnit testcase)."""
        with self.logger.subtest(name):
            try:
                yield
            except Exception as e:
                self.logger.log_test_error(f'Test "{name}" failed with error: "{e}"')
                raise

    def test_symbols(self) -> dict[str, Any]:
        symbols = {name: getattr(self, attr) for name, attr in self.SCRIPT_ATTRIBUTES.items()}
        symbols.update(self.SCRIPT_VALUES, t=AssertionTester(), driver=self)
        python_names = {n.name: n.python_name for n in self.test.nodes}
        symbols.update({python_names[m.name]: m for m in self.machines})
        if len(self.machines) == 1:
            symbols["machine"] = self.machines[0]
        return symbols

    @property
    def tests(self) -> str:
        """The testscript's text (nixpkgs' `Driver.tests`)."""
        return self.test.script.read_text()

    def test_script(self) -> None:
        """Run the test's script, then its postscripts (the kernel-log guard), in one namespace
        with `test_symbols()`, as nixpkgs runs their concatenation; logs and re-raises a failure."""
        with self.logger.nested("run the VM test script"), nixpkgs_modules():
            namespace = self.test_symbols()
            for path, text in self.test.script_parts():
                code = compile(text, str(path), "exec")
                try:
                    exec(code, namespace, None)
                except RequestedAssertionFailed as e:
                    self._log_script_failure(e)
                    self.debug.breakpoint()  # as nixpkgs: after the report
                    raise
                except BaseException as e:
                    for line in traceback.format_exception(e):
                        for sub in line.rstrip().splitlines():
                            self.logger.log_test_error(sub)
                    raise
                finally:
                    self.last_namespace = namespace  # --debug-on-failure: the REPL's globals

    def _log_script_failure(self, e: BaseException) -> None:
        frames = testscript_frames(e, (self.test.script, *self.test.postscripts))
        self.logger.log_test_error("Traceback (most recent call last):")
        for line in traceback.format_list(frames):
            for sub in line.rstrip().splitlines():
                self.logger.log_test_error(sub)
        self.logger.log_test_error("")
        for line in f"{type(e).__name__}: {e}".splitlines():
            self.logger.log_test_error(line)

    def run_tests(self) -> None:
        """`test_script()` under the global timeout; then `sync` on running machines."""
        self.logger.info(f"Test will time out and terminate in {self.global_timeout} seconds")
        if self.race_timer.ident is not None:  # started by an earlier run_tests() (REPL)
            self.race_timer = self._race_timer()
        self.race_timer.start()
        try:
            self.test_script()
            for m in self.machines:
                if m.is_up():
                    m.execute("sync")
        except BaseException as e:
            # The killed VMs usually fail the running command before the SIGTERM lands.
            if self._timed_out and not isinstance(e, GlobalTimeout):
                raise GlobalTimeout(f"global timeout of {self.global_timeout} s reached") from e
            raise
        finally:
            self.race_timer.cancel()

    def terminate_test(self) -> None:
        """The global timeout's action, as nixpkgs': log "timeout reached; test
        terminating...", kill the VMs (blocked calls fail at once), then SIGTERM the main
        thread, so a script busy with something else stops too (nixpkgs' process then exits
        with 143; `printerfact run` does the same)."""
        self._timed_out = True
        reason = f"global timeout of {self.global_timeout} s reached"
        with self.logger.nested("timeout reached; test terminating..."):
            for m in self.machines:
                m.kill(reason)
        if self._old_sigterm is not None:
            _thread.interrupt_main(signal.SIGTERM)

    # --- machines -----------------------------------------------------------------------------

    def start_all(self) -> None:
        """Start every machine, in parallel."""
        with self.logger.nested("start all VMs"):
            errors: list[BaseException] = []
            done = [threading.Event() for _ in self.machines]

            def start(m: Machine, finished: threading.Event) -> None:
                try:
                    m.start()
                except BaseException as e:
                    errors.append(e)
                finally:
                    finished.set()

            for m, finished in zip(self.machines, done, strict=True):
                threading.Thread(target=start, args=(m, finished), daemon=True).start()
            try:
                for finished in done:
                    finished.wait()
            except BaseException:
                # Ctrl-C: let the (short) starts finish, so cleanup sees every QEMU.  (Events,
                # not Thread.join: a join interrupted by a signal may return early afterwards.)
                for finished in done:
                    finished.wait()
                raise
            if errors:
                raise errors[0]

    def join_all(self) -> None:
        """Wait for every machine to shut down."""
        with self.logger.nested("wait for all VMs to finish"):
            for m in self.machines:
                m.wait_for_shutdown()
            self.race_timer.cancel()  # as nixpkgs: all VMs are done, so is the global timeout

    @unavailable("it needs a NixOS VM start script; the nodes come from testscripts/tests.toml")
    def create_machine(
        self,
        start_command: str | dict[str, Any],
        *,
        name: str | None = None,
        keep_machine_state: bool = False,
        keep_vm_state: bool = False,
    ) -> Machine:
        raise NotImplementedError  # @unavailable raises instead

    @unavailable(NO_SSH_BACKDOOR)
    def dump_machine_ssh(self, offset: int) -> None: ...

    def serial_stdout_on(self) -> None:
        self.logger.print_serial_logs(True)

    def serial_stdout_off(self) -> None:
        self.logger.print_serial_logs(False)

    # --- polling conditions -----------------------------------------------------------------

    def check_polling_conditions(self) -> None:
        for condition in self.polling_conditions:
            condition.maybe_raise()

    def polling_condition(
        self,
        fun_: Callable[[], bool | None] | None = None,
        *,
        seconds_interval: float = 2.0,
        description: str | None = None,
    ) -> Any:
        """As nixpkgs: a decorator/context manager checked before each machine action."""
        driver = self

        class Poll(AbstractContextManager[None]):
            def __init__(self, fun: Callable[[], bool | None]) -> None:
                self.condition = PollingCondition(fun, driver.logger, seconds_interval, description)

            def __enter__(self) -> None:
                driver.polling_conditions.append(self.condition)

            def __exit__(self, *exc: object) -> None:
                res = driver.polling_conditions.pop()
                assert res is self.condition

            def wait(self, timeout: int = 900) -> None:
                def condition(last: bool) -> bool:
                    if last:
                        driver.logger.info(f"Last chance for {self.condition.description}")
                    ret = self.condition.check(force=True)
                    if not ret and not last:
                        driver.logger.info(f"({self.condition.description} failure not fatal yet)")
                    return ret

                with driver.logger.nested(f"waiting for {self.condition.description}"):
                    retry(condition, timeout=timeout)

        if fun_ is None:
            return Poll
        return Poll(fun_)
