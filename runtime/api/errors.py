"""The one place where exceptions become HTTP responses: `{"error": {"code", "message"}}`."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from connectors.hubspot import SignatureError
from runtime.auth import NotAuthenticated, PermissionDenied
from runtime.db import InvalidCursor, SnippetExists, SnippetNotFound, VersionNotFound
from runtime.hooks import PayloadError
from runtime.secrets import InvalidSecret, SecretNotFound, SecretsError, SecretTooLarge
from sandbox import ExecutorBusy, ExecutorUnavailable


class ApiError(Exception):
    """An error with its HTTP status and a snake_case code the caller can branch on."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        headers: dict[str, str] | None = None,
        details: Any = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}
        self.details = details


def error_response(error: ApiError) -> JSONResponse:
    body: dict[str, Any] = {"code": error.code, "message": error.message}
    if error.details is not None:
        body["details"] = error.details
    return JSONResponse({"error": body}, status_code=error.status, headers=error.headers)


def _as_api_error(exc: Exception) -> ApiError:
    match exc:
        case ApiError():
            return exc
        case NotAuthenticated():
            return ApiError(
                401, "unauthenticated", str(exc), headers={"WWW-Authenticate": "Bearer"}
            )
        case PermissionDenied():
            return ApiError(403, "forbidden", str(exc))
        case SignatureError():
            return ApiError(401, "bad_signature", str(exc))
        case PayloadError():
            return ApiError(422, "invalid_payload", str(exc))
        case SnippetNotFound() | VersionNotFound():
            return ApiError(404, "not_found", str(exc))
        case SnippetExists():
            return ApiError(409, "conflict", str(exc))
        case InvalidCursor():
            return ApiError(400, "invalid_cursor", str(exc))
        case SecretTooLarge():
            return ApiError(413, "too_large", str(exc))
        case InvalidSecret():
            return ApiError(422, "invalid", str(exc))
        case SecretNotFound():
            return ApiError(404, "not_found", str(exc))
        case SecretsError():  # SecretUnreadable, MasterKeyError: stored data this key cannot read
            return ApiError(500, "secret_unreadable", str(exc))
        case ExecutorBusy():
            seconds = str(max(1, round(exc.retry_after)))
            return ApiError(503, "overloaded", str(exc), headers={"Retry-After": seconds})
        case ExecutorUnavailable():
            return ApiError(503, "executor_unavailable", str(exc), headers={"Retry-After": "5"})
    raise exc


def _validation_message(errors: list[Any]) -> tuple[str, list[dict[str, Any]]]:
    details = []
    for error in errors:
        location = ".".join(str(part) for part in error.get("loc", ()) if part != "body")
        message = str(error.get("msg", "invalid"))
        if "input" in error and error.get("type") != "missing":
            shown = repr(error["input"])
            message += f", got {shown[:80] + '…' if len(shown) > 80 else shown}"
        details.append({"field": location or "body", "message": message})
    summary = "; ".join(f"{d['field']}: {d['message']}" for d in details[:5])
    return summary, details


def install(app: FastAPI) -> None:
    async def on_known(request: Request, exc: Exception) -> JSONResponse:
        return error_response(_as_api_error(exc))

    async def on_validation(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        errors = list(exc.errors())
        if any(e.get("type") == "json_invalid" for e in errors):
            return error_response(ApiError(400, "bad_json", "the request body is not valid JSON"))
        summary, details = _validation_message(errors)
        return error_response(ApiError(422, "invalid", summary, details=details))

    async def on_http(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        codes = {
            404: "not_found",
            405: "method_not_allowed",
            413: "too_large",
            415: "unsupported_media_type",
        }
        code = codes.get(exc.status_code, "http_error")
        return error_response(
            ApiError(exc.status_code, code, str(exc.detail), headers=dict(exc.headers or {}))
        )

    for kind in (
        ApiError,
        NotAuthenticated,
        PermissionDenied,
        SignatureError,
        PayloadError,
        SnippetNotFound,
        VersionNotFound,
        SnippetExists,
        InvalidCursor,
        SecretsError,
        ExecutorBusy,
        ExecutorUnavailable,
    ):
        app.add_exception_handler(kind, on_known)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
