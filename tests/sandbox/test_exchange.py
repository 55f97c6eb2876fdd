"""The parent's side of a conversation with a child, driven by a scripted peer on a socketpair."""

from __future__ import annotations

import base64
import socket
import threading

from sandbox import Executor, Limits, _ipc
from sandbox._exchange import Exchange, converse


def _talk(
    frames: list[dict[str, object]], limits: Limits, *, want_compiled: bool = True
) -> tuple[Exchange, list[bool]]:
    parent, child = socket.socketpair()

    def peer() -> None:
        _ipc.recv_frame(child)
        for frame in frames:
            _ipc.send_frame(child, frame)
        child.close()

    thread = threading.Thread(target=peer)
    thread.start()
    killed: list[bool] = []
    ex = converse(
        parent, {"code": "x"}, limits, kill=lambda: killed.append(True), want_compiled=want_compiled
    )
    thread.join()
    parent.close()
    return ex, killed


def test_compiled_frame_before_snippet_output_is_accepted() -> None:
    """Code compiled before the snippet runs is offered to the parent's cache."""
    code = base64.b64encode(b"bytes").decode()
    ex, _ = _talk(
        [{"t": "started"}, {"t": "compiled", "code": code}, {"t": "result", "status": "success"}],
        Limits(),
    )
    assert ex.compiled == b"bytes"


def test_compiled_frame_after_snippet_output_is_ignored() -> None:
    """A `compiled` frame after the first log line could come from the snippet: never cached."""
    code = base64.b64encode(b"forged").decode()
    frames = [
        {"t": "started"},
        {"t": "log", "text": "hi\n"},
        {"t": "compiled", "code": code},
        {"t": "result", "status": "success"},
    ]
    ex, _ = _talk(frames, Limits())
    assert ex.compiled is None
    assert ex.logs == ["hi\n"]


def test_second_compiled_frame_is_ignored() -> None:
    """Only the first `compiled` frame counts; a later one is not trusted."""
    first, second = base64.b64encode(b"one").decode(), base64.b64encode(b"two").decode()
    frames = [
        {"t": "started"},
        {"t": "compiled", "code": first},
        {"t": "compiled", "code": second},
        {"t": "result", "status": "success"},
    ]
    ex, _ = _talk(frames, Limits())
    assert ex.compiled == b"one"


def test_garbage_from_the_child_kills_it() -> None:
    """A frame that is not a JSON object ends the conversation with a kill."""
    parent, child = socket.socketpair()
    child.sendall(b"\x00\x00\x00\x03abc")
    killed: list[bool] = []
    ex = converse(
        parent, {"code": "x"}, Limits(), kill=lambda: killed.append(True), want_compiled=True
    )
    assert ex.killed and killed and ex.result is None
    parent.close()
    child.close()


def test_executor_reuses_compiled_code_for_the_same_source(executor: Executor) -> None:
    """The second run of a source uses the cached compilation and behaves the same."""
    code = "X = 40\ndef main(event):\n    return {'outputFields': {'v': X + 2}}\n"
    first = executor.run(code, {})
    assert len(executor._compiled) >= 1
    second = executor.run(code, {})
    assert first.output_fields == second.output_fields == {"v": 42}
