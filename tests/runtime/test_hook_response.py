"""The webhook response HubSpot gets for each kind of finished execution."""

from __future__ import annotations

import pytest

from runtime.hooks import block_response, hook_response, overloaded_response
from sandbox.result import ErrorInfo, ExecutionResult, ExecutionStatus


def test_success_returns_outputs_with_success_state() -> None:
    """A successful run answers 200 with its outputs and `hs_execution_state: SUCCESS`."""
    result = ExecutionResult(ExecutionStatus.SUCCESS, output_fields={"variant": 3, "tier": "gold"})

    status, body, headers = hook_response(result)

    assert status == 200
    assert body == {"outputFields": {"variant": 3, "tier": "gold", "hs_execution_state": "SUCCESS"}}
    assert headers == {}


def test_success_without_outputs_still_reports_state() -> None:
    """A snippet that returned None still tells the workflow it succeeded."""
    response = hook_response(ExecutionResult(ExecutionStatus.SUCCESS, output_fields=None))

    assert response.body == {"outputFields": {"hs_execution_state": "SUCCESS"}}


def test_execution_state_is_codehooks_not_the_snippets() -> None:
    """An output named hs_execution_state cannot misreport a successful run's state."""
    result = ExecutionResult(ExecutionStatus.SUCCESS, output_fields={"hs_execution_state": "BLOCK"})

    assert hook_response(result).body["outputFields"]["hs_execution_state"] == "SUCCESS"


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (ExecutionStatus.ERROR, "SNIPPET_ERROR"),
        (ExecutionStatus.TIMEOUT, "TIMEOUT"),
        (ExecutionStatus.MEMORY_EXCEEDED, "MEMORY_LIMIT"),
        (ExecutionStatus.CRASHED, "CRASHED"),
        (ExecutionStatus.OUTPUT_INVALID, "OUTPUT_INVALID"),
    ],
)
def test_failures_answer_200_fail_continue_with_error_outputs(
    status: ExecutionStatus, code: str
) -> None:
    """Every failure is a 200 the workflow can branch on: FAIL_CONTINUE, errorCode, errorMessage."""
    error = ErrorInfo("KeyError", "'email'", line=7)

    response = hook_response(ExecutionResult(status, error=error))

    assert response.status == 200
    assert response.body == {
        "outputFields": {
            "hs_execution_state": "FAIL_CONTINUE",
            "errorCode": code,
            "errorMessage": "KeyError: 'email' (line 7)",
        }
    }
    assert response.headers == {}


def test_error_without_line_has_no_line_suffix() -> None:
    """A limit error with no user line is described by type and message alone."""
    error = ErrorInfo("TimeoutError", "the snippet ran longer than 20 s")

    response = hook_response(ExecutionResult(ExecutionStatus.TIMEOUT, error=error))

    message = response.body["outputFields"]["errorMessage"]
    assert message == "TimeoutError: the snippet ran longer than 20 s"


def test_failure_without_error_info_gets_a_plain_message() -> None:
    """A crash with no ErrorInfo still explains itself."""
    response = hook_response(ExecutionResult(ExecutionStatus.CRASHED))

    assert response.body["outputFields"]["errorMessage"] == "the snippet's process crashed"


def test_very_long_error_message_is_shortened() -> None:
    """errorMessage stays a reasonable workflow property value."""
    error = ErrorInfo("ValueError", "x" * 10_000)

    response = hook_response(ExecutionResult(ExecutionStatus.ERROR, error=error))

    message = response.body["outputFields"]["errorMessage"]
    assert len(message) == 2000
    assert message.endswith("…")


def test_rate_limited_run_answers_429_with_retry_after_rounded_up() -> None:
    """A snippet that hit HubSpot's rate limit makes HubSpot retry after the advertised delay."""
    error = ErrorInfo("ApiException", "(429) Too Many Requests", line=12)
    result = ExecutionResult(
        ExecutionStatus.ERROR, error=error, rate_limited=True, retry_after_seconds=2.1
    )

    status, body, headers = hook_response(result)

    assert status == 429
    assert headers == {"Retry-After": "3"}
    assert body["error"]["code"] == "rate_limited"
    assert "ApiException: (429) Too Many Requests (line 12)" in body["error"]["message"]
    assert "retry after 3 s" in body["error"]["message"]


@pytest.mark.parametrize(("seconds", "header"), [(0.2, "1"), (0.0, "1"), (None, "10"), (60, "60")])
def test_retry_after_is_at_least_one_second_and_defaults_to_ten(
    seconds: float | None, header: str
) -> None:
    """Retry-After is a whole number of seconds, at least 1; unknown means HubSpot's 10 s window."""
    result = ExecutionResult(ExecutionStatus.ERROR, rate_limited=True, retry_after_seconds=seconds)

    assert hook_response(result).headers == {"Retry-After": header}


def test_block_response_holds_the_workflow_for_a_day_by_default() -> None:
    """The async answer is BLOCK with a P1D expiration."""
    assert block_response() == (
        200,
        {"outputFields": {"hs_execution_state": "BLOCK", "hs_expiration_duration": "P1D"}},
        {},
    )


def test_block_response_accepts_other_iso_durations() -> None:
    """Any ISO 8601 duration is passed through."""
    assert block_response("PT30M").body["outputFields"]["hs_expiration_duration"] == "PT30M"
    assert block_response("P3DT12H").body["outputFields"]["hs_expiration_duration"] == "P3DT12H"


@pytest.mark.parametrize("expiration", ["1 day", "P", "PT", "P1H", ""])
def test_block_response_refuses_non_durations(expiration: str) -> None:
    """A malformed expiration is a programming error, refused with the value quoted."""
    with pytest.raises(ValueError, match="ISO 8601 duration"):
        block_response(expiration)


def test_overloaded_response_is_503_with_retry_after() -> None:
    """Overload answers 503 with Retry-After so HubSpot retries instead of dropping the call."""
    status, body, headers = overloaded_response(2.5)

    assert status == 503
    assert headers == {"Retry-After": "3"}
    assert body == {
        "error": {"code": "overloaded", "message": "Codehook is at capacity; retry after 3 s"}
    }
