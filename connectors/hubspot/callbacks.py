"""Completing HubSpot workflow callbacks, which resume a workflow blocked on an async action."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hubspot import HubSpot
from hubspot.automation.actions import (
    BatchInputCallbackCompletionBatchRequest,
    CallbackCompletionBatchRequest,
    CallbackCompletionRequest,
)

from connectors.hubspot.client import DEFAULT_TIMEOUT_SECONDS

__all__ = ["complete_callback", "complete_callbacks"]


def complete_callback(
    client: HubSpot,
    callback_id: str,
    output_fields: Mapping[str, Any],
    *,
    timeout: float = DEFAULT_TIMEOUT_SECONDS,
) -> None:
    """Complete one blocked action with its output fields (including `hs_execution_state`)."""
    request = CallbackCompletionRequest(output_fields=dict(output_fields))
    client.automation.actions.callbacks_api.complete(callback_id, request, _request_timeout=timeout)


def complete_callbacks(
    client: HubSpot,
    completions: Mapping[str, Mapping[str, Any]],
    *,
    timeout: float = DEFAULT_TIMEOUT_SECONDS,
) -> None:
    """Complete several blocked actions in one call: callback id -> output fields."""
    inputs = [
        CallbackCompletionBatchRequest(callback_id=callback_id, output_fields=dict(fields))
        for callback_id, fields in completions.items()
    ]
    request = BatchInputCallbackCompletionBatchRequest(inputs=inputs)
    client.automation.actions.callbacks_api.complete_batch(request, _request_timeout=timeout)
