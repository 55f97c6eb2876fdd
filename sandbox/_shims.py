"""Stand-ins for the host: the `os` shim, the print collector and logging capture."""

from __future__ import annotations

import logging
import types
from collections.abc import Callable, Iterator, Mapping, MutableMapping
from typing import Any

LogSink = Callable[[str], None]


class SafeModule(types.ModuleType):
    """Base of every module object a snippet may hold (guarded proxies and shims)."""


class SecretEnviron(MutableMapping[str, str]):
    """`os.environ` for a snippet: only its granted secrets; writes stay in this execution."""

    def __init__(self, secrets: Mapping[str, str]) -> None:
        self._data = dict(secrets)

    def __getitem__(self, name: str) -> str:
        return self._data[name]

    def __setitem__(self, name: str, value: str) -> None:
        if not isinstance(name, str) or not isinstance(value, str):
            raise TypeError("os.environ keys and values must be str")
        self._data[name] = value

    def __delitem__(self, name: str) -> None:
        del self._data[name]

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._data))

    def __len__(self) -> int:
        return len(self._data)

    def copy(self) -> dict[str, str]:
        return dict(self._data)

    def __repr__(self) -> str:
        # Values are secrets: never show them, not even to the snippet's own prints.
        return f"environ({sorted(self._data)!r})"


class OsShim(SafeModule):
    """The only `os` a snippet sees: `getenv` and `environ` over its granted secrets."""

    def __init__(self, secrets: Mapping[str, str]) -> None:
        super().__init__("os", "Codehook's os: only getenv() and environ over granted secrets.")
        self.environ = SecretEnviron(secrets)

    def getenv(self, name: str, default: Any = None) -> Any:
        """Return the granted secret `name`, else `default`."""
        return self.environ.get(name, default)

    def __repr__(self) -> str:
        return "<module 'os' (Codehook shim)>"


class PrintCollector:
    """Target of the compiled `print(...)`: text goes to the execution log."""

    def __init__(self, log: LogSink, getattr_: Callable[[Any, str], Any]) -> None:
        self._log = log
        self._getattr = getattr_
        self._printed: list[str] = []

    def print(
        self,
        *objects: object,
        sep: str | None = " ",
        end: str | None = "\n",
        file: Any = None,
        flush: bool = False,
    ) -> None:
        sep = " " if sep is None else sep
        end = "\n" if end is None else end
        if not isinstance(sep, str) or not isinstance(end, str):
            raise TypeError("sep and end must be None or a string")
        text = sep.join(str(obj) for obj in objects) + end
        if file is None:
            self._printed.append(text)
            self._log(text)
        else:
            # A snippet-provided writer: its `write` is looked up through the guard.
            self._getattr(file, "write")(text)

    # The name RestrictedPython's compiled `print(...)` calls.
    _call_print = print

    def __call__(self) -> str:
        return "".join(self._printed)


def print_factory(log: LogSink, getattr_: Callable[[Any, str], Any]) -> Callable[..., Any]:
    """The `_print_` guard: one collector per compiled scope, all writing to `log`."""

    def make(_getattr: Any = None) -> PrintCollector:
        return PrintCollector(log, getattr_)

    return make


class _SinkHandler(logging.Handler):
    def __init__(self, log: LogSink) -> None:
        super().__init__(logging.NOTSET)
        self._sink = log

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self._sink(self.format(record) + "\n")
        except Exception:
            self.handleError(record)


# Where handlers a snippet creates without a stream write to (the current execution's log).
_current_sink: list[LogSink] = []


def current_sink() -> LogSink:
    return _current_sink[-1] if _current_sink else (lambda _text: None)


class _CurrentSinkStream:
    """A write-only stream for snippet-made StreamHandlers: text goes to the log."""

    def write(self, text: str) -> int:
        current_sink()(text)
        return len(text)

    def flush(self) -> None:
        pass


SINK_STREAM = _CurrentSinkStream()


def install_logging_capture(log: LogSink) -> None:
    """Route root-logger records to `log` as "LEVEL name: message" lines, at INFO."""
    _current_sink[:] = [log]
    root = logging.getLogger()
    for handler in list(root.handlers):
        if isinstance(handler, _SinkHandler):
            root.removeHandler(handler)
    handler = _SinkHandler(log)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root.addHandler(handler)
    root.setLevel(logging.INFO)
