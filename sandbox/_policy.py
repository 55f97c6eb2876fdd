"""The RestrictedPython compile policy for snippets: the default checks plus ordinary Python."""

from __future__ import annotations

import ast
from typing import Any

from RestrictedPython.transformer import (
    INSPECT_ATTRIBUTES,
    IOPERATOR_TO_STR,
    RestrictingNodeTransformer,
    copy_locations,
)


def _name(name: str, ctx: ast.expr_context | None = None) -> ast.Name:
    return ast.Name(id=name, ctx=ctx or ast.Load())


def _call(func: str, *args: ast.expr) -> ast.Call:
    return ast.Call(func=_name(func), args=list(args), keywords=[])


class SnippetPolicy(RestrictingNodeTransformer):
    """RestrictedPython's policy, plus augmented assignment to items/attributes and annotations."""

    def error(self, node: ast.AST, info: str) -> None:
        # Same "Line N: ..." shape as RestrictedPython, with the column added for the editor.
        line = getattr(node, "lineno", None)
        column = getattr(node, "col_offset", None)
        self.errors.append(f"Line {line}:{column}: {info}")

    def _bind(self, value: ast.expr, anchor: ast.stmt) -> tuple[ast.Assign, str]:
        """Evaluate `value` once into a generated temporary (names users cannot write)."""
        tmp = self.gen_tmp_name()
        assign = ast.Assign(targets=[_name(tmp, ast.Store())], value=value)
        copy_locations(assign, anchor)
        return assign, tmp

    def _check_attribute(self, node: ast.AST, attr: str) -> None:
        if attr.startswith("_") and attr != "_":
            self.error(node, f'"{attr}" is an invalid attribute name because it starts with "_".')
        if attr.endswith("__roles__"):
            self.error(
                node, f'"{attr}" is an invalid attribute name because it ends with "__roles__".'
            )
        if attr in INSPECT_ATTRIBUTES:
            self.error(node, f'"{attr}" is a restricted name, that is forbidden to access.')

    def visit_AugAssign(self, node: ast.AugAssign) -> Any:
        """`obj[k] op= v` / `obj.a op= v` through _getitem_/_getattr_, _inplacevar_ and _write_."""
        target = node.target
        if isinstance(target, ast.Name):
            return super().visit_AugAssign(node)
        op = ast.Constant(IOPERATOR_TO_STR[type(node.op)])
        value = self.visit(node.value)
        if isinstance(target, ast.Attribute):
            self._check_attribute(node, target.attr)
            bind_obj, obj = self._bind(self.visit(target.value), node)
            read: ast.expr = _call("_getattr_", _name(obj), ast.Constant(target.attr))
            store: ast.expr = ast.Attribute(
                value=_call("_write_", _name(obj)), attr=target.attr, ctx=ast.Store()
            )
            binds = [bind_obj]
        elif isinstance(target, ast.Subscript):
            bind_obj, obj = self._bind(self.visit(target.value), node)
            bind_key, key = self._bind(self.visit(target.slice), node)
            read = _call("_getitem_", _name(obj), _name(key))
            store = ast.Subscript(
                value=_call("_write_", _name(obj)), slice=_name(key), ctx=ast.Store()
            )
            binds = [bind_obj, bind_key]
        else:  # pragma: no cover - the grammar allows only Name, Attribute and Subscript
            self.not_allowed(node)
            return node
        assign = ast.Assign(targets=[store], value=_call("_inplacevar_", op, read, value))
        for new in (assign, *binds):
            copy_locations(new, node)
            ast.fix_missing_locations(new)
        return [*binds, assign]

    def visit_AnnAssign(self, node: ast.AnnAssign) -> Any:
        """Allow `x: int = 0` (dataclasses, typed constants); string annotations are refused."""
        self._refuse_string_annotation(node.annotation)
        if isinstance(node.target, ast.Name):
            self.check_name(node, node.target.id)
        return self.node_contents_visit(node)

    def visit_arg(self, node: ast.arg) -> Any:
        if node.annotation is not None:
            self._refuse_string_annotation(node.annotation)
        return super().visit_arg(node)

    def visit_FunctionDef(self, node: ast.FunctionDef) -> Any:
        if node.returns is not None:
            self._refuse_string_annotation(node.returns)
        return super().visit_FunctionDef(node)

    def _refuse_string_annotation(self, annotation: ast.expr) -> None:
        # typing.get_type_hints (also called by functools.singledispatch) evaluates string
        # annotations with the real eval, outside every guard of this policy.
        for child in ast.walk(annotation):
            if isinstance(child, ast.Constant) and isinstance(child.value, str):
                self.error(
                    child,
                    "string annotations are not allowed in Codehook snippets; "
                    "write the type itself",
                )
                return
