"""The import allowlist, guarded module proxies and the attribute/value policy they enforce."""

from __future__ import annotations

import contextlib
import importlib
import types
from collections.abc import Callable, Mapping
from typing import Any

from sandbox import _replacements
from sandbox._shims import SafeModule

# Modules importable together with every submodule they have.
_TREES = frozenset({"requests", "httpx", "hubspot", "json", "collections", "typing"})
# Modules importable by exactly this name.
_EXACT = frozenset(
    {
        "os",
        "time",
        "re",
        "datetime",
        "math",
        "random",
        "logging",
        "decimal",
        "statistics",
        "itertools",
        "functools",
        "string",
        "uuid",
        "hashlib",
        "hmac",
        "base64",
        "zoneinfo",
        "calendar",
        "urllib",
        "urllib.parse",
        "html",
        "copy",
        "enum",
        "dataclasses",
        "textwrap",
        "secrets",
        # Threads (e.g. parallel HTTP calls) die with the execution's process.
        "threading",
        "concurrent",
        "concurrent.futures",
    }
)
AVAILABLE = ", ".join(sorted(_EXACT | _TREES))

# Non-underscore attributes that lead to frames, code objects or globals.
DENIED_ATTRIBUTES = frozenset(
    {
        "gi_frame",
        "gi_code",
        "gi_yieldfrom",
        "cr_frame",
        "cr_code",
        "cr_await",
        "cr_origin",
        "ag_frame",
        "ag_code",
        "ag_await",
        "f_globals",
        "f_locals",
        "f_builtins",
        "f_back",
        "f_code",
        "f_trace",
        "f_generator",
        "tb_frame",
        "tb_next",
        "func_globals",
        "func_code",
        "co_code",
        "mro",
    }
)
_UNSAFE_VALUES = (types.FrameType, types.CodeType, types.TracebackType)


def is_allowed(name: str) -> bool:
    """True when a snippet may import or reach the real module called `name` (never `os`)."""
    if name == "os":
        return False
    if name in _EXACT or name in _TREES:
        return True
    return any(name.startswith(tree + ".") for tree in _TREES)


def unavailable(name: str) -> str:
    if name == "os":
        return (
            "the real module 'os' is not available in Codehook snippets; "
            "`import os` gives getenv() and environ"
        )
    return f"module {name!r} is not available in Codehook snippets; available: {AVAILABLE}"


def check_attribute_name(name: object) -> str:
    """Return `name` if a snippet may read an attribute by that name, else raise."""
    if not isinstance(name, str):
        raise TypeError(f"attribute name must be a string, not {type(name).__name__}")
    if name.startswith("_"):
        raise AttributeError(f'"{name}" is an invalid attribute name because it starts with "_"')
    if name in DENIED_ATTRIBUTES:
        raise AttributeError(f'access to attribute "{name}" is not allowed in Codehook snippets')
    return name


def guard_value(value: Any) -> Any:
    """Pass `value` on to a snippet: modules become proxies (if allowed), frames never pass."""
    if isinstance(value, types.ModuleType):
        if isinstance(value, SafeModule):
            return value
        return proxy(value)
    if isinstance(value, _UNSAFE_VALUES):
        raise AttributeError(
            f"{type(value).__name__} objects are not available in Codehook snippets"
        )
    return value


class ModuleProxy(SafeModule):
    """A read-only view of an allowlisted module that applies the snippet attribute policy."""

    def __init__(self, real: types.ModuleType, overrides: Mapping[str, Any]) -> None:
        # The proxy's own name is not a real module name, so CPython's `from x import y`
        # fallback to sys.modules can never find the real submodule through it.
        super().__init__("codehook-proxy")
        object.__setattr__(self, "_codehook_real", real)
        object.__setattr__(self, "_codehook_overrides", overrides)

    def __getattribute__(self, name: str) -> Any:
        if name == "__class__":
            return type(self)
        check_attribute_name(name)
        real: types.ModuleType = object.__getattribute__(self, "_codehook_real")
        overrides: Mapping[str, Any] = object.__getattribute__(self, "_codehook_overrides")
        if name in overrides:
            return overrides[name]
        try:
            value = getattr(real, name)
        except AttributeError:
            raise AttributeError(f"module {real.__name__!r} has no attribute {name!r}") from None
        return guard_value(value)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("modules are read-only in Codehook snippets")

    def __delattr__(self, name: str) -> None:
        raise AttributeError("modules are read-only in Codehook snippets")

    def __dir__(self) -> list[str]:
        real: types.ModuleType = object.__getattribute__(self, "_codehook_real")
        return [name for name in dir(real) if not name.startswith("_")]

    def __repr__(self) -> str:
        real: types.ModuleType = object.__getattribute__(self, "_codehook_real")
        return f"<module {real.__name__!r} (Codehook)>"


_proxies: dict[str, ModuleProxy] = {}


def proxy(module: types.ModuleType) -> ModuleProxy:
    """The guarded proxy of an allowlisted module; AttributeError naming it otherwise."""
    name = module.__name__
    if not is_allowed(name):
        raise AttributeError(unavailable(name))
    cached = _proxies.get(name)
    if cached is None or object.__getattribute__(cached, "_codehook_real") is not module:
        cached = ModuleProxy(module, _replacements.overrides_for(name))
        _proxies[name] = cached
    return cached


def make_importer(os_shim: SafeModule) -> Callable[..., SafeModule]:
    """The snippet's `__import__`: allowlisted modules only, as proxies; `os` is the shim."""

    def load(name: str) -> SafeModule:
        if name == "os":
            return os_shim
        if not is_allowed(name):
            raise ImportError(unavailable(name), name=name)
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError:
            raise ImportError(unavailable(name), name=name) from None
        if not is_allowed(module.__name__):
            # An alias such as requests.packages.urllib3 is judged by what it really is.
            raise ImportError(unavailable(module.__name__), name=module.__name__)
        return proxy(module)

    def guarded_import(
        name: str,
        globals: Mapping[str, Any] | None = None,
        locals: Mapping[str, Any] | None = None,
        fromlist: tuple[str, ...] | list[str] | None = (),
        level: int = 0,
    ) -> SafeModule:
        if level != 0:
            raise ImportError("relative imports are not available in Codehook snippets")
        if not isinstance(name, str) or not name:
            raise ImportError("import needs a module name")
        module = load(name)
        if not fromlist:
            for depth in range(1, name.count(".") + 1):
                load(".".join(name.split(".")[:depth]))
            return load(name.split(".")[0])
        for item in fromlist:
            check_attribute_name(item)
            if module is not os_shim and item in object.__getattribute__(
                module, "_codehook_overrides"
            ):
                continue  # replaced: the real attribute is never looked up (it may import)
            sub = f"{name}.{item}"
            real = None if module is os_shim else object.__getattribute__(module, "_codehook_real")
            value = getattr(real, item, None) if real is not None else None
            if isinstance(value, types.ModuleType) and not is_allowed(value.__name__):
                raise ImportError(unavailable(value.__name__), name=value.__name__)
            if value is None and real is not None and hasattr(real, "__path__"):
                # `from package import submodule` imports the submodule, as Python does.
                if not is_allowed(sub):
                    raise ImportError(unavailable(sub), name=sub)
                with contextlib.suppress(ModuleNotFoundError):
                    importlib.import_module(sub)
            if not hasattr(module, item):
                raise ImportError(f"cannot import name {item!r} from {name!r}", name=name)
        return module

    return guarded_import
