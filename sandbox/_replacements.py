"""Safe stand-ins for the dangerous corners of allowlisted modules."""

from __future__ import annotations

import functools
import inspect
import logging
import types
import typing
from collections.abc import Callable, Mapping
from typing import Any

from sandbox._formats import SafeFormatter, check_format_string
from sandbox._shims import SINK_STREAM


def get_type_hints(
    obj: Any, globalns: Any = None, localns: Any = None, include_extras: bool = False
) -> dict[str, Any]:
    """`typing.get_type_hints` that returns string annotations as written, never evaluated."""
    if isinstance(obj, type):
        hints: dict[str, Any] = {}
        for base in reversed(obj.__mro__):
            hints.update(inspect.get_annotations(base))
        return hints
    return dict(getattr(obj, "__annotations__", None) or {})


def _is_dispatch_type(cls: Any) -> bool:
    if isinstance(cls, type):
        return True
    if typing.get_origin(cls) in (typing.Union, types.UnionType):
        return all(isinstance(arg, type) for arg in typing.get_args(cls))
    return False


def singledispatch(func: Callable[..., Any]) -> Any:
    """`functools.singledispatch` whose `register` needs an explicit type."""
    dispatcher = functools.singledispatch(func)
    real_register = dispatcher.register

    # Registering by annotation runs the real typing.get_type_hints, which evaluates
    # string annotations with the unrestricted eval.
    def register(cls: Any, func: Callable[..., Any] | None = None) -> Any:
        if not _is_dispatch_type(cls):
            raise TypeError(
                "register the type explicitly in Codehook snippets, e.g. @f.register(int)"
            )
        return real_register(cls, func)

    dispatcher.register = register  # type: ignore[method-assign]
    return dispatcher


def _refused(what: str, why: str) -> Callable[..., Any]:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise PermissionError(f"{what} is not available in Codehook snippets: {why}")

    return refuse


def _check_log_format(fmt: object, style: object) -> None:
    if style == "{" and isinstance(fmt, str):
        check_format_string(fmt)


class Formatter(logging.Formatter):
    """`logging.Formatter` refusing `{`-style fields that traverse attributes or items."""

    def __init__(
        self,
        fmt: str | None = None,
        datefmt: str | None = None,
        style: typing.Literal["%", "{", "$"] = "%",
        validate: bool = True,
        *,
        defaults: Mapping[str, Any] | None = None,
    ) -> None:
        _check_log_format(fmt, style)
        super().__init__(fmt, datefmt, style, validate, defaults=defaults)


class StrFormatStyle(logging.StrFormatStyle):
    """`logging.StrFormatStyle` refusing fields that traverse attributes or items."""

    def __init__(self, fmt: str, *, defaults: Mapping[str, Any] | None = None) -> None:
        _check_log_format(fmt, "{")
        super().__init__(fmt, defaults=defaults)


class StreamHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """`logging.StreamHandler` that always writes to the execution log."""

    def __init__(self, stream: Any = None) -> None:
        if stream is not None:
            raise PermissionError(
                "logging.StreamHandler(stream) is not available in Codehook snippets: "
                "handlers always write to the execution log"
            )
        super().__init__(SINK_STREAM)

    def setStream(self, stream: Any) -> Any:
        raise PermissionError("StreamHandler.setStream is not available in Codehook snippets")


_FILE_ARGUMENTS = ("filename", "filemode", "stream", "encoding", "errors")


def basic_config(**kwargs: Any) -> None:
    """`logging.basicConfig` without files or streams; records go to the execution log."""
    refused = sorted(set(kwargs) & set(_FILE_ARGUMENTS))
    if refused:
        raise PermissionError(
            f"logging.basicConfig({refused[0]}=...) is not available in Codehook snippets: "
            "records always go to the execution log"
        )
    _check_log_format(kwargs.get("format"), kwargs.get("style", "%"))
    kwargs.setdefault("handlers", [StreamHandler()])
    logging.basicConfig(**kwargs)


_NO_FILES = "snippets cannot write files; records of logging.getLogger() go to the execution log"

_OVERRIDES: dict[str, Mapping[str, Any]] = {
    "string": {"Formatter": SafeFormatter},
    "typing": {"get_type_hints": get_type_hints},
    "functools": {
        "singledispatch": singledispatch,
        "singledispatchmethod": _refused("functools.singledispatchmethod", "use singledispatch"),
    },
    "logging": {
        "Formatter": Formatter,
        "StrFormatStyle": StrFormatStyle,
        "StreamHandler": StreamHandler,
        "FileHandler": _refused("logging.FileHandler", _NO_FILES),
        "basicConfig": basic_config,
        # A public lambda around sys._getframe: a frame object for the asking.
        "currentframe": _refused("logging.currentframe", "frames are not available"),
    },
    # Trace and profile hooks receive frame objects.
    "threading": {
        "settrace": _refused("threading.settrace", "frames are not available"),
        "setprofile": _refused("threading.setprofile", "frames are not available"),
        "settrace_all_threads": _refused(
            "threading.settrace_all_threads", "frames are not available"
        ),
        "setprofile_all_threads": _refused(
            "threading.setprofile_all_threads", "frames are not available"
        ),
    },
    "concurrent.futures": {
        "ProcessPoolExecutor": _refused(
            "concurrent.futures.ProcessPoolExecutor",
            "use ThreadPoolExecutor; snippets cannot start processes",
        ),
    },
}


def overrides_for(module_name: str) -> Mapping[str, Any]:
    """Attributes of `module_name` that snippets see replaced."""
    return _OVERRIDES.get(module_name, {})
