"""The pure half of `Machine` (driver/machine.py): the guest command lines its methods run, the
parsing of what those print, key names and messages.  Nothing here does I/O.

The guest side of each check is nixpkgs' own where the image has the tool (`systemctl`, `fold`,
`journalctl`, `xwininfo`), so a script sees the output it sees under nixpkgs; where busybox
lacks what nixpkgs uses (`nc -z`, `nc -U`), the command finds out the same thing another way.
"""

from __future__ import annotations

import re
import shlex
import tarfile

from printerfact.vm.framing import HELD_OPEN, TIMED_OUT

# --- commands (execute, succeed, fail) ------------------------------------------------------------

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


# --- systemd ----------------------------------------------------------------------------------

_PROPERTY = re.compile(r"^([^=]+)=(.*)$")


def systemctl_command(q: str, user: str | None = None) -> str:
    """`systemctl q`; with `user`, `systemctl --user q` in a login shell of that user, as
    nixpkgs runs it."""
    if user is None:
        return f"systemctl {q}"
    quoted = q.replace("'", "\\'")
    return (
        f"su -l {user} --shell /bin/sh -c "
        f"$'XDG_RUNTIME_DIR=/run/user/`id -u` systemctl --user {quoted}'"
    )


def whose(user: str | None) -> str:
    """The part of an error message naming the user whose systemd was asked."""
    return "" if user is None else f' under user "{user}"'


def parse_unit_info(lines: str) -> dict[str, str]:
    """Every `property=value` line of `systemctl show`'s output, as a dict."""
    found = (_PROPERTY.match(line) for line in lines.split("\n"))
    return {m[1]: m[2] for m in found if m is not None}


def parse_unit_property(lines: str, unit: str, property: str) -> str:
    """The value of `systemctl show UNIT --property=PROPERTY`'s output; as nixpkgs, a plain
    assertion on anything but "property=value"."""
    match = _PROPERTY.match(lines)
    invalid = f'systemctl show --property "{property}" "{unit}"produced invalid output: {lines}'
    assert match is not None and match[1] == property, invalid
    return match[2]


# --- waits ------------------------------------------------------------------------------------


def port_open_command(port: int, addr: str) -> str:
    """Succeeds when something accepts TCP connections on `addr`:`port`.  busybox nc has no -z:
    it connects with stdin at EOF; a peer that keeps the connection open is still an open port
    (nc killed by timeout's SIGTERM: 143)."""
    return (
        f"s=0; timeout 2 nc -w 1 {shlex.quote(addr)} {int(port)} </dev/null >/dev/null 2>&1"
        ' || s=$?; [ "$s" -eq 0 ] || [ "$s" -eq 143 ]'
    )


def unix_socket_open_command(addr: str, is_datagram: bool) -> str:
    """What `nc -z -U` (nixpkgs) finds out, read from the kernel's socket table, since busybox nc
    has no unix sockets: a socket bound at that path, and for a stream socket listening (flag
    __SO_ACCEPTCON).  The path is resolved first, as connect() follows symlinks."""
    kind = "0002" if is_datagram else "0001"
    return (
        f'p=$(readlink -f -- {shlex.quote(addr)}) && awk -v p="$p"'
        f' \'NR > 1 && $5 == "{kind}" && ($5 == "0002" || $4 == "00010000")'
        " && substr($0, index($0, $8)) == p { found = 1 } END { exit !found }' /proc/net/unix"
    )


# --- file copies ------------------------------------------------------------------------------


def make_command(args: list[object]) -> str:
    """nixpkgs' make_command: each argument shell-quoted."""
    return " ".join(shlex.quote(str(a)) for a in args)


def as_root(info: tarfile.TarInfo) -> tarfile.TarInfo:
    """A tar member owned by root:root (copy_from_host_via_shell's filter)."""
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    return info


# --- screen, virtual terminals and X ----------------------------------------------------------
# nixpkgs' checks, as its Machine runs them (their output is what a script sees).


def tty_text_command(tty: str) -> str:
    """The text on virtual terminal `tty`, folded at its width."""
    return f"fold -w$(stty -F /dev/tty{tty} size | awk '{{print $2}}') /dev/vcs{tty}"


# The X server is ready when both succeed, in order.
X_READY_COMMANDS = (
    'journalctl -b SYSLOG_IDENTIFIER=systemd | grep "Reached target Current graphical"',
    "[ -e /tmp/.X11-unix/X0 ]",
)
WINDOW_NAMES_COMMAND = r"xwininfo -root -tree | sed 's/.*0x[0-9a-f]* \"\([^\"]*\)\".*/\1/; t; d'"


# --- keyboard ---------------------------------------------------------------------------------

# What `send_chars`/`send_key` press for a character that is not itself a key name: nixpkgs'
# CHAR_TO_KEY, PC scancodes of the US layout (shifted characters add shift).
_CODES = {"-": "0x0C", "=": "0x0D", "[": "0x1A", "]": "0x1B", ";": "0x27", "'": "0x28",
          "`": "0x29", "\\": "0x2B", ",": "0x33", ".": "0x34", "/": "0x35"}  # fmt: skip
_SHIFTED = dict(zip('_+{}:"~|<>?', "-=[];'`\\,./", strict=True))
CHAR_TO_KEY: dict[str, str] = {
    **{c: f"shift-{c.lower()}" for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ"},
    **_CODES,
    **{s: f"shift-{_CODES[c]}" for s, c in _SHIFTED.items()},
    **{c: f"shift-0x{i:02X}" for i, c in enumerate("!@#$%^&*()", start=2)},
    " ": "spc",
    "\n": "ret",
}


def key_for(char: str) -> str:
    """The `sendkey` name for one character; key names ("ctrl-alt-delete") pass unchanged."""
    return CHAR_TO_KEY.get(char, char)
