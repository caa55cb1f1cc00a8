"""Names of nixpkgs' driver API that the portable driver cannot offer, declared where they
belong with the reason, so that a script nixpkgs' static check accepts passes ours too and
fails only when it uses one, with `Unavailable` naming the reason.

- `unavailable_attribute[T](reason)`: an attribute typed as nixpkgs types it; reading it
  raises (an AttributeError too: `hasattr` is False).
- `@unavailable(reason)`: a method with nixpkgs' signature whose call raises.
- `UnavailableClass`: the base of a class nixpkgs has (`NspawnMachine`, ...); making one raises,
  and the type checker accepts any use of an instance, as it would against nixpkgs' class.

`unavailable_names(cls)` lists them with their reasons (docs/api-conformance.md is held to it).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, ClassVar, Generic, NoReturn, Self, TypeVar, overload

from printerfact.driver.errors import Unavailable, UnavailableAttribute

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])

_WHY = "is not available in the portable driver"


class unavailable_attribute(Generic[T]):  # noqa: N801 - used like `property`
    def __init__(self, reason: str) -> None:
        self.reason = reason
        self.name = "?"

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, obj: None, owner: type) -> Self: ...

    @overload
    def __get__(self, obj: object, owner: type) -> T: ...

    def __get__(self, obj: object | None, owner: type) -> Self | T:
        if obj is None:
            return self
        raise UnavailableAttribute(f"{owner.__name__}.{self.name} {_WHY}: {self.reason}")


def unavailable(reason: str) -> Callable[[F], F]:
    """Decorate a method (nixpkgs' signature, body `...`) that raises when called."""

    def decorate(fn: F) -> F:
        @functools.wraps(fn)
        def refuse(self: object, *args: Any, **kwargs: Any) -> NoReturn:
            raise Unavailable(f"{type(self).__name__}.{fn.__name__}() {_WHY}: {reason}")

        refuse.unavailable_reason = reason  # type: ignore[attr-defined]
        return refuse  # type: ignore[return-value]

    return decorate


class UnavailableClass:
    """Subclass with a `reason`; instances cannot be made."""

    reason: ClassVar[str]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        raise Unavailable(f"{type(self).__name__} {_WHY}: {self.reason}")

    def __getattr__(self, name: str) -> Any:
        # Never reached (no instance exists): tells the type checker that any attribute is
        # fine, as against nixpkgs' class.
        raise AttributeError(name)


def unavailable_names(cls: type) -> dict[str, str]:
    """name -> reason, for every unavailable attribute and method of `cls` and its bases."""
    found: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        for name, value in vars(klass).items():
            if isinstance(value, unavailable_attribute):
                found[name] = value.reason
            elif callable(value) and hasattr(value, "unavailable_reason"):
                found[name] = value.unavailable_reason
            else:
                found.pop(name, None)
    return found
