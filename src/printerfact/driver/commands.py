"""Machine's commands with nixpkgs' semantics (its `execute`, `succeed`, `fail`).

nixpkgs runs `timeout T bash -c 'set -euo pipefail; CMD' | (base64 -w 0; echo)` in its backdoor
root shell; guest/agent.sh gives a command the same surroundings.  Past its timeout a command
ends with status 124, which `execute` returns and `succeed`, `fail` and `wait_until_*` treat as
any other status; a timeout of None or 0 means none (`timeout 0` disables it).  The log then
names the command, the likely cause (stdin: the console, which never ends) and the console tail.

Only a guest that stops answering altogether (the timeout plus framing.HOST_GRACE_S) raises
CommandTimeout, and a VM that died raises VMCrashed: nixpkgs would hang until its global timeout.
"""

from __future__ import annotations

from printerfact.driver.errors import (
    ChannelStalledError,
    CommandTimeout,
    RequestedAssertionFailed,
    VMCrashed,
)
from printerfact.driver.framing import (
    HELD_OPEN,
    TIMED_OUT,
    ChannelError,
    ChannelStalled,
    ChannelTimeout,
    Reply,
)
from printerfact.driver.machine_base import MachineBase

STDIN_HINT = (
    "; if it reads stdin, that is why: stdin is the backdoor's console, which never ends, as"
    " under nixpkgs' driver (redirect it, e.g. `</dev/null`)"
)


HELD_OPEN_HINT = (
    ": the command had ended, but a process it left in the background kept its stdout open;"
    " nixpkgs' driver, which reads stdout to its end, would wait for it for good (a command"
    " that detaches must close stdout, e.g. `cmd >/dev/null &`)"
)


def timed_out_message(command: str, timeout: float | None, how: int = TIMED_OUT) -> str:
    hint = HELD_OPEN_HINT if how == HELD_OPEN else STDIN_HINT
    return f"command `{command}` timed out after {timeout} s (exit code 124){hint}"


class CommandsMixin(MachineBase):
    def _run(
        self,
        command: str,
        check_return: bool = True,
        check_output: bool = True,
        timeout: float | None = 900,
    ) -> Reply:
        """One command in the guest: nixpkgs' `execute`, with the output as bytes and whether
        the timeout ended it."""
        self.run_callbacks()
        self.connect()
        full = f"set -euo pipefail; {command}"
        with self._lock:
            s = self._require_session()
            if not check_output:
                s.channel.send(full, timeout)
                return Reply(-2, b"")
            try:
                reply = s.channel.run(full, timeout)
            except ChannelTimeout as e:
                raise CommandTimeout(
                    s.crash_report(f"command `{command}`: the guest stopped answering ({e})")
                ) from e
            except ChannelStalled as e:
                report = s.stall_report(f"command `{command}`: {e}")
                self.log(report)
                raise ChannelStalledError(report + "\n" + s.crash_report("channel stalled")) from e
            except ChannelError as e:
                if not check_return:
                    return Reply(-1, b"")  # e.g. `poweroff`: the VM went away as asked
                raise VMCrashed(s.crash_report(f"while running `{command}`: {e}")) from e
        if reply.timed_out:
            self.log(
                f"{timed_out_message(command, timeout, reply.timed_out)}\n"
                f"--- last console lines ---\n{s.console.tail(20)}"
            )
        if not check_return:
            return Reply(-1, reply.stdout, reply.timed_out)
        return reply

    def execute(
        self,
        command: str,
        check_return: bool = True,
        check_output: bool = True,
        timeout: int | None = 900,
    ) -> tuple[int, str]:
        """Run a shell command in the guest; (status, stdout).  stderr goes to the console."""
        reply = self._run(command, check_return, check_output, timeout)
        return reply.status, reply.stdout.decode(errors="replace")

    def _execute_bytes(
        self,
        command: str,
        check_return: bool = True,
        check_output: bool = True,
        timeout: int | None = 900,
    ) -> tuple[int, bytes]:
        reply = self._run(command, check_return, check_output, timeout)
        return reply.status, reply.stdout

    def _expect(self, command: str, timeout: int | None, success: bool) -> str:
        reply = self._run(command, timeout=timeout)
        out = reply.stdout.decode(errors="replace")
        if success and reply.status != 0:
            self.log(f"output: {out}")
            hint = HELD_OPEN_HINT if reply.timed_out == HELD_OPEN else STDIN_HINT
            why = f": timed out after {timeout} s{hint}" if reply.timed_out else ""
            raise RequestedAssertionFailed(
                f"command `{command}` failed (exit code {reply.status}){why}"
            )
        if not success and reply.status == 0:
            raise RequestedAssertionFailed(f"command `{command}` unexpectedly succeeded")
        return out

    def succeed(self, *commands: str, timeout: int | None = None) -> str:
        """Run each command; raise at the first non-zero status; the outputs concatenated."""
        output = ""
        for command in commands:
            with self.nested(f"must succeed: {command}"):
                output += self._expect(command, timeout, success=True)
        return output

    def fail(self, *commands: str, timeout: int | None = None) -> str:
        """Like `succeed`, but each command must exit non-zero."""
        output = ""
        for command in commands:
            with self.nested(f"must fail: {command}"):
                output += self._expect(command, timeout, success=False)
        return output

    def sleep(self, secs: int) -> None:
        # Guest time, not host time.
        self.succeed(f"sleep {secs}")

    def shell_interact(self, address: str | None = None) -> None:
        """Type commands for the guest (one per line; Ctrl-D ends); for the REPL.  nixpkgs
        connects socat to the backdoor shell instead; a socat `address` is not supported."""
        if address is not None:
            raise RequestedAssertionFailed("shell_interact(address=...) is not supported")
        self.connect()
        self.log("Terminal is ready (one command per line, Ctrl-D to leave):")
        while True:
            try:
                line = input("$ ")
            except (EOFError, KeyboardInterrupt):
                print()
                return
            if line.strip():
                status, out = self.execute(line, timeout=None)
                print(out, end="" if out.endswith("\n") or not out else "\n")
                if status != 0:
                    print(f"[exit {status}]")
