"""The run-time guards RestrictedPython's compiled code calls, and the snippet builtins."""

from __future__ import annotations

import builtins
import collections
import functools
import operator
import types
import weakref
from collections.abc import Callable
from typing import Any

from RestrictedPython.Guards import guarded_iter_unpack_sequence, guarded_unpack_sequence

from sandbox._formats import safe_format, safe_format_map
from sandbox._modules import check_attribute_name, guard_value

_MISSING: Any = object()
_FORMAT_METHODS = frozenset({"format", "format_map"})


def _string_format_method(obj: Any, name: str) -> Callable[..., Any] | None:
    """The safe replacement for `str.format`/`format_map` reached through `obj`, if any."""
    if isinstance(obj, type) and issubclass(obj, str | collections.UserString):

        def unbound(self: Any, /, *args: Any, **kwargs: Any) -> Any:
            return _string_format_method(self, name)(*args, **kwargs)  # type: ignore[misc]

        return unbound
    if isinstance(obj, collections.UserString):
        obj = obj.data
    if isinstance(obj, str):
        method = safe_format if name == "format" else safe_format_map
        return functools.partial(method, str(obj))
    return None


def guarded_getattr(obj: Any, name: Any, default: Any = _MISSING) -> Any:
    """`_getattr_` and the `getattr` builtin: underscore, frame and module policy applied."""
    check_attribute_name(name)
    if name in _FORMAT_METHODS:
        safe = _string_format_method(obj, name)
        if safe is not None:
            return safe
    try:
        value = getattr(obj, name)
    except AttributeError:
        if default is _MISSING:
            raise
        return default
    return guard_value(value)


def guarded_hasattr(obj: Any, name: Any) -> bool:
    try:
        guarded_getattr(obj, name)
    except AttributeError:
        return False
    return True


def guarded_getitem(obj: Any, key: Any) -> Any:
    return guard_value(obj[key])


# Attribute writes refused on library objects: each reaches files or the network set-up.
_DENIED_WRITES = frozenset({"logger_file", "logger_file_handler"})
_UNWRITABLE = (
    types.ModuleType,
    type,
    types.FunctionType,
    types.BuiltinFunctionType,
    types.MethodType,
    types.BuiltinMethodType,
    types.WrapperDescriptorType,
    types.MethodWrapperType,
    types.MethodDescriptorType,
    types.GetSetDescriptorType,
    types.MemberDescriptorType,
    types.FrameType,
    types.CodeType,
    types.TracebackType,
    functools.partial,
    property,
    classmethod,
    staticmethod,
)


class _LibraryWrite:
    """What `_write_` hands back for a library object: attribute writes are checked by name."""

    __slots__ = ("_target",)

    def __init__(self, target: Any) -> None:
        object.__setattr__(self, "_target", target)

    def __setattr__(self, name: str, value: Any) -> None:
        _check_write_name(name)
        setattr(object.__getattribute__(self, "_target"), name, value)

    def __delattr__(self, name: str) -> None:
        _check_write_name(name)
        delattr(object.__getattribute__(self, "_target"), name)

    def __setitem__(self, key: Any, value: Any) -> None:
        object.__getattribute__(self, "_target")[key] = value

    def __delitem__(self, key: Any) -> None:
        del object.__getattribute__(self, "_target")[key]


def _check_write_name(name: Any) -> None:
    check_attribute_name(name)
    if name in _DENIED_WRITES:
        raise AttributeError(f'writing attribute "{name}" is not allowed in Codehook snippets')


def make_write_guard(snippet_classes: weakref.WeakSet[type]) -> Callable[[Any], Any]:
    """The `_write_` guard: containers and snippet objects pass, modules/types/functions never."""

    def guarded_write(obj: Any) -> Any:
        if isinstance(obj, dict | list | set | bytearray) or (
            isinstance(obj, type) and obj in snippet_classes
        ):
            return obj
        if isinstance(obj, _UNWRITABLE):
            kind = "module" if isinstance(obj, types.ModuleType) else type(obj).__name__
            raise TypeError(f"cannot modify a {kind} in Codehook snippets")
        if type(obj) in snippet_classes:
            return obj
        return _LibraryWrite(obj)

    return guarded_write


def make_setattr(write: Callable[[Any], Any]) -> Callable[[Any, Any, Any], None]:
    def guarded_setattr(obj: Any, name: Any, value: Any) -> None:
        _check_write_name(name)
        setattr(write(obj), name, value)

    return guarded_setattr


def make_delattr(write: Callable[[Any], Any]) -> Callable[[Any, Any], None]:
    def guarded_delattr(obj: Any, name: Any) -> None:
        _check_write_name(name)
        delattr(write(obj), name)

    return guarded_delattr


_INPLACE: dict[str, Callable[[Any, Any], Any]] = {
    "+=": operator.iadd,
    "-=": operator.isub,
    "*=": operator.imul,
    "/=": operator.itruediv,
    "//=": operator.ifloordiv,
    "%=": operator.imod,
    "**=": operator.ipow,
    "<<=": operator.ilshift,
    ">>=": operator.irshift,
    "&=": operator.iand,
    "|=": operator.ior,
    "^=": operator.ixor,
    "@=": operator.imatmul,
}


def inplacevar(op: str, target: Any, value: Any) -> Any:
    """`_inplacevar_`: apply an augmented operator (`+=` etc.) the way Python would."""
    try:
        return _INPLACE[op](target, value)
    except KeyError:
        raise SyntaxError(f"unknown augmented operator {op!r}") from None


def apply(func: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
    return func(*args, **kwargs)


class SnippetClassFactory:
    """`__metaclass__` for snippet classes: builds with the bases' metaclass and remembers them."""

    def __init__(self, registry: weakref.WeakSet[type]) -> None:
        self._registry = registry

    @staticmethod
    def _meta(bases: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        meta = kwargs.pop("metaclass", type)
        for base in bases:
            if isinstance(type(base), type) and issubclass(type(base), meta):
                meta = type(base)
        return meta

    def __prepare__(self, name: str, bases: tuple[Any, ...], **kwargs: Any) -> Any:
        meta = self._meta(bases, dict(kwargs))
        prepare = getattr(meta, "__prepare__", None)
        return prepare(name, bases, **kwargs) if prepare else {}

    def __call__(self, name: str, bases: tuple[Any, ...], namespace: Any, **kwargs: Any) -> Any:
        meta = self._meta(bases, kwargs)
        cls = meta(name, bases, namespace, **kwargs)
        if isinstance(cls, type):
            self._registry.add(cls)
        return cls


_PLAIN_BUILTINS = (
    "None",
    "False",
    "True",
    "Ellipsis",
    "NotImplemented",
    "abs",
    "all",
    "any",
    "ascii",
    "bin",
    "bool",
    "bytearray",
    "bytes",
    "callable",
    "chr",
    "classmethod",
    "complex",
    "dict",
    "divmod",
    "enumerate",
    "filter",
    "float",
    "format",
    "frozenset",
    "hash",
    "hex",
    "id",
    "int",
    "isinstance",
    "issubclass",
    "iter",
    "len",
    "list",
    "map",
    "max",
    "min",
    "next",
    "object",
    "oct",
    "ord",
    "pow",
    "property",
    "range",
    "repr",
    "reversed",
    "round",
    "set",
    "slice",
    "sorted",
    "staticmethod",
    "str",
    "sum",
    "tuple",
    "zip",
)
# Every built-in exception, except the ExceptionGroup family that `except*` needs.
_EXCEPTIONS = [
    name
    for name, value in vars(builtins).items()
    if isinstance(value, type)
    and issubclass(value, BaseException)
    and not issubclass(value, BaseExceptionGroup)
]


def make_builtins(
    *,
    importer: Callable[..., Any],
    write: Callable[[Any], Any],
) -> dict[str, Any]:
    """The `__builtins__` of one execution: no exec/eval/compile/open/type/vars/globals/..."""
    safe: dict[str, Any] = {name: getattr(builtins, name) for name in _PLAIN_BUILTINS}
    safe.update({name: getattr(builtins, name) for name in _EXCEPTIONS})
    safe.update(
        __build_class__=builtins.__build_class__,
        __import__=importer,
        getattr=guarded_getattr,
        hasattr=guarded_hasattr,
        setattr=make_setattr(write),
        delattr=make_delattr(write),
    )
    return safe


__all__ = [
    "SnippetClassFactory",
    "apply",
    "guarded_getattr",
    "guarded_getitem",
    "guarded_hasattr",
    "guarded_iter_unpack_sequence",
    "guarded_unpack_sequence",
    "inplacevar",
    "make_builtins",
    "make_write_guard",
]
