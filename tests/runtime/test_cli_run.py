"""`codehook run FILE`: usage errors, output rendering, and end-to-end runs in the sandbox."""

from __future__ import annotations

import importlib.util
import io
import json
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

from runtime.cli import main
from runtime.cli.run import _print_human
from sandbox import CompileIssue, ErrorInfo, ExecutionResult, ExecutionStatus

ROOT = Path(__file__).resolve().parents[2]
SNIPPETS = ROOT / "snippets"
TRACEBACK = (
    "Traceback (most recent call last):\n  File \"<snippet>\", line 7, in main\nKeyError: 'email'"
)
OK_SNIPPET = 'def main(event):\n    return {"outputFields": {"n": 1}}\n'


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings come from CODEHOOK_* variables; start every test without any."""
    for name in list(os.environ):
        if name.startswith("CODEHOOK_"):
            monkeypatch.delenv(name)


@pytest.fixture
def snippet(tmp_path: Path) -> Path:
    path = tmp_path / "snippet.py"
    path.write_text(OK_SNIPPET)
    return path


# --- usage errors -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(["{missing}"], "snippet file not found: '", id="missing-file"),
        pytest.param(["{dir}"], "cannot read snippet file", id="file-is-directory"),
        pytest.param(
            ["{snippet}", "--event", "{missing}"], "event file not found: '", id="missing-event"
        ),
        pytest.param(
            ["{snippet}", "--event", "{bad_json}"],
            "is not valid JSON: Expecting ':' delimiter: line 1 column 16",
            id="bad-event-json",
        ),
        pytest.param(
            ["{snippet}", "--event", "{list_json}"],
            "must hold a JSON object, got list",
            id="event-not-object",
        ),
        pytest.param(
            ["{snippet}", "--event", "{bad_inputs}"],
            "inputFields must be an object, got list",
            id="event-input-fields-not-object",
        ),
        pytest.param(
            ["{snippet}", "--input", "email"],
            "--input expects NAME=VALUE, got 'email'",
            id="input-without-equals",
        ),
        pytest.param(
            ["{snippet}", "--input", "=x"], "--input has an empty name in '=x'", id="input-no-name"
        ),
        pytest.param(
            ["{snippet}", "--secret", "1token=abc"],
            "--secret name must match [A-Za-z_][A-Za-z0-9_]{0,63}, got '1token'",
            id="secret-bad-name",
        ),
        pytest.param(
            ["{snippet}", "--secret", "UNSET_FOR_TEST"],
            "--secret UNSET_FOR_TEST: no value given and $UNSET_FOR_TEST is not set",
            id="secret-from-unset-env",
        ),
        pytest.param(
            ["{snippet}", "--output", "tier=num"],
            "--output: outputFields['tier'].type must be one of string, number",
            id="output-bad-type",
        ),
        pytest.param(
            ["{snippet}", "--output", "tier=enumeration"],
            "outputFields['tier'].options must be a non-empty list",
            id="output-enumeration-without-options",
        ),
        pytest.param(
            ["{snippet}", "--output", "bad-name=string"], "got 'bad-name'", id="output-bad-name"
        ),
        pytest.param(
            ["{snippet}", "--timeout", "0"], "--timeout must be more than 0", id="timeout-zero"
        ),
        pytest.param(
            ["{snippet}", "--timeout", "600"],
            "at most 60 (CODEHOOK_MAX_TIMEOUT_SECONDS), got 600",
            id="timeout-over-server-cap",
        ),
        pytest.param(
            ["{snippet}", "--memory", "4"], "--memory must be between 8 and 512", id="memory-low"
        ),
        pytest.param(
            ["{snippet}", "--allow-host", "https://api.example.com/v1"],
            "--allow-host expects a host name like api.example.com, got 'https://api.",
            id="allow-host-url",
        ),
    ],
)
def test_usage_error_is_one_line_with_exit_status_2(
    args: list[str], message: str, tmp_path: Path, snippet: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Each usage error prints one line on stderr naming the bad value, and exits 2."""
    files = {
        "snippet": snippet,
        "missing": tmp_path / "nope.json",
        "dir": tmp_path,
        "bad_json": tmp_path / "bad.json",
        "list_json": tmp_path / "list.json",
        "bad_inputs": tmp_path / "inputs.json",
    }
    files["bad_json"].write_text('{"inputFields" {}}')
    files["list_json"].write_text("[1, 2]")
    files["bad_inputs"].write_text('{"inputFields": ["email"]}')
    argv = ["run", *(arg.format(**{k: str(v) for k, v in files.items()}) for arg in args)]

    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("codehook run: "), err
    assert message in err
    assert "Traceback" not in err


def test_bad_egress_overrides_setting_is_a_usage_error(
    snippet: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A malformed CODEHOOK_EGRESS_OVERRIDES names the setting and exits 2."""
    monkeypatch.setenv("CODEHOOK_EGRESS_OVERRIDES", '{"api.hubapi.com": 8081}')
    assert main(["run", str(snippet)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("codehook run: invalid setting CODEHOOK_EGRESS_OVERRIDES: ")
    assert err.count("\n") == 1


@pytest.mark.parametrize(
    "arg",
    [
        pytest.param("pat-na1-0d9f8e7c-secret", id="value-without-name"),
        pytest.param("bad name=pat-na1-0d9f8e7c-secret", id="bad-name-with-value"),
    ],
)
def test_secret_usage_errors_never_echo_the_value(
    arg: str, snippet: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A malformed --secret is refused without printing what may be the secret value."""
    assert main(["run", str(snippet), "--secret", arg]) == 2
    err = capsys.readouterr().err
    assert "pat-na1-0d9f8e7c-secret" not in err
    assert err.startswith("codehook run: --secret")


def test_non_numeric_timeout_is_refused_by_argparse(
    snippet: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A --timeout that is not a number exits 2 with argparse's usage message."""
    with pytest.raises(SystemExit) as excinfo:
        main(["run", str(snippet), "--timeout", "soon"])
    assert excinfo.value.code == 2
    assert "invalid float value: 'soon'" in capsys.readouterr().err


# --- human output -----------------------------------------------------------------------------


def render(result: ExecutionResult, issues: Sequence[CompileIssue] = ()) -> str:
    out = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")
    _print_human(result, out, issues)
    out.seek(0)
    return out.read()


def test_human_output_shows_status_aligned_outputs_and_logs() -> None:
    """Success prints a status line, `name = value` lines aligned on `=`, then the logs."""
    result = ExecutionResult(
        ExecutionStatus.SUCCESS,
        output_fields={"variant": 3, "tier": "gold"},
        logs="picked 3\nsecond line\n",
        duration_ms=12.34,
        memory_kb=2150,
    )
    assert render(result) == (
        "✔ success in 12.3 ms, 2.1 MB\n"
        '\noutputs\n  variant = 3\n  tier    = "gold"\n'
        "\nlogs\n  picked 3\n  second line\n"
    )


def test_human_output_shows_error_line_and_traceback() -> None:
    """A failed run prints its status, no outputs, and the error with line and traceback."""
    result = ExecutionResult(
        ExecutionStatus.ERROR,
        error=ErrorInfo("KeyError", "'email'", 7, TRACEBACK),
        duration_ms=1500.0,
    )
    assert render(result) == (
        "✘ error in 1.50 s, 0.0 MB\n"
        "\noutputs\n  (none)\n"
        "\nerror (line 7)\n"
        "  Traceback (most recent call last):\n"
        '    File "<snippet>", line 7, in main\n'
        "  KeyError: 'email'\n"
    )


def test_human_output_lists_every_compile_issue() -> None:
    """A compile error with several problems lists each with its line and column."""
    result = ExecutionResult(
        ExecutionStatus.ERROR,
        error=ErrorInfo("CompileError", "line 2: no eval (and 1 more)", 2),
    )
    issues = [CompileIssue("no eval", 2, 8), CompileIssue("no _names", 5, 4)]
    assert render(result, issues).endswith(
        "\nerror (line 2)\n  CompileError: line 2: no eval (and 1 more)\n"
        "  every problem found:\n"
        "    line 2, column 9: no eval\n"
        "    line 5, column 5: no _names\n"
    )


def test_human_output_falls_back_to_ascii_marks() -> None:
    """On a terminal that cannot encode ✔/✘ the status line uses OK/FAILED."""
    out = io.TextIOWrapper(io.BytesIO(), encoding="ascii")
    _print_human(ExecutionResult(ExecutionStatus.TIMEOUT), out)
    out.seek(0)
    assert out.read().startswith("FAILED timeout in 0.0 ms")


# --- end to end, in the real sandbox ----------------------------------------------------------

# The executor's zygote imports these when it starts; until they exist no snippet can run.
_MISSING = [
    name
    for name in ("sandbox.executor", "sandbox.language", "connectors.egress")
    if importlib.util.find_spec(name) is None
]
needs_sandbox = pytest.mark.skipif(
    bool(_MISSING), reason=f"sandbox executor not complete yet: missing {', '.join(_MISSING)}"
)


def codehook(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run the `codehook` entry point (runtime.cli:main) in a subprocess from this checkout."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("CODEHOOK_")}
    environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), environ.get("PYTHONPATH")]))
    environ.update(env or {})
    entry = "import sys; from runtime.cli import main; sys.exit(main(sys.argv[1:]))"
    return subprocess.run(
        [sys.executable, "-c", entry, *args],
        capture_output=True,
        text=True,
        env=environ,
        cwd=ROOT,
        timeout=120,
    )


@needs_sandbox
def test_run_prints_outputs_and_logs_and_exits_0(tmp_path: Path) -> None:
    """A successful run shows coerced outputs, the event it got, and its logs."""
    path = tmp_path / "ok.py"
    path.write_text(
        "def main(event):\n"
        "    print('object', event['object']['objectType'], event['callbackId'][:6])\n"
        "    inputs = event['inputFields']\n"
        "    return {'outputFields': {'amount': inputs['amount'], 'email': inputs['email']}}\n"
    )
    proc = codehook(
        "run", str(path), "--input", "amount=12.5", "--input", "email=a@example.com",
        "--output", "amount=number", "--output", "email=string",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("✔ success in ")
    assert '  amount = 12.5\n  email  = "a@example.com"\n' in proc.stdout
    assert "object CONTACT local-" in proc.stdout


@needs_sandbox
def test_run_error_exits_1_with_users_line_number(tmp_path: Path) -> None:
    """An exception in the snippet exits 1 and points at the user's own line."""
    path = tmp_path / "broken.py"
    path.write_text(
        "def main(event):\n    email = event['inputFields']['email']\n    return None\n"
    )
    proc = codehook("run", str(path))
    assert proc.returncode == 1
    assert proc.stdout.startswith("✘ error in ")
    assert "error (line 2)" in proc.stdout
    assert "KeyError" in proc.stdout


@needs_sandbox
def test_run_compile_error_exits_1_with_line_numbers(tmp_path: Path) -> None:
    """Source the sandbox policy refuses exits 1 and lists each problem by line."""
    path = tmp_path / "refused.py"
    path.write_text("def main(event):\n    kind = event.__class__\n    return eval('1')\n")
    proc = codehook("run", str(path))
    assert proc.returncode == 1
    assert "error (line 2)\n  CompileError: " in proc.stdout
    assert "    line 3" in proc.stdout


@needs_sandbox
def test_run_json_prints_the_execution_result(tmp_path: Path) -> None:
    """--json prints ExecutionResult.to_dict() and keeps the exit status."""
    path = tmp_path / "bad_output.py"
    path.write_text("def main(event):\n    return {'outputFields': {'n': 'many'}}\n")
    proc = codehook("run", str(path), "--json", "--output", "n=number")
    assert proc.returncode == 1
    result = json.loads(proc.stdout)
    assert {"status", "output_fields", "logs", "error", "duration_ms", "memory_kb"} <= set(result)
    assert result["status"] == "output_invalid"
    assert "outputFields['n'] must be a finite number" in result["error"]["message"]


@needs_sandbox
def test_run_never_prints_secret_values(tmp_path: Path) -> None:
    """A secret the snippet prints shows up redacted, granted through --secret or the env."""
    path = tmp_path / "leaky.py"
    path.write_text(
        "import os\n\ndef main(event):\n"
        "    print(os.getenv('hstoken'), os.environ['OpenAI_Key'])\n"
        "    return None\n"
    )
    proc = codehook(
        "run", str(path), "--secret", "hstoken=pat-na1-1234abcd", "--secret", "OpenAI_Key",
        env={"OpenAI_Key": "sk-test-5678efgh"},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "pat-na1-1234abcd" not in proc.stdout + proc.stderr
    assert "sk-test-5678efgh" not in proc.stdout + proc.stderr
    assert "REDACTED" in proc.stdout


@needs_sandbox
def test_variant_pick_example_picks_one_of_four_and_sticks_per_key() -> None:
    """The example snippet returns variant 1-4, the same one for the same sticky_key."""
    args = ["run", str(SNIPPETS / "variant_pick.py"), "--json", "--output", "variant=number"]
    event = ["--event", str(SNIPPETS / "events" / "variant_pick.json")]
    random_pick = json.loads(codehook(*args, *event).stdout)
    assert random_pick["output_fields"]["variant"] in (1, 2, 3, 4)
    sticky = ["--input", "sticky_key=jordan.reyes@northwind-outfitters.com"]
    picks = {json.loads(codehook(*args, *sticky).stdout)["output_fields"]["variant"] for _ in "ab"}
    assert len(picks) == 1 and picks <= {1, 2, 3, 4}
