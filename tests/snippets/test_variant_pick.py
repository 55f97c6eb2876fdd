"""The variant-pick snippet: through the service, and statistically over many executions."""

from __future__ import annotations

import collections
from concurrent.futures import ThreadPoolExecutor

from sandbox import ExecutionStatus, Executor
from tests.snippets.conftest import SNIPPETS, Service

NAME = "variant-pick"
CODE = (SNIPPETS / "variant_pick.py").read_text()
# Chi-square with 3 degrees of freedom: exceeded by chance once in 1,000 uniform samples.
CHI_SQUARE_P001 = 16.27


def chi_square(counts: collections.Counter[int], total: int) -> float:
    expected = total / 4
    return sum((counts[v] - expected) ** 2 / expected for v in (1, 2, 3, 4))


def bulk_code(body: str) -> str:
    """The snippet with its `main` renamed `pick`, and a `main` that calls it in a loop."""
    return CODE.replace("def main(event):", "def pick(event):") + body


def test_hook_answers_a_variant_from_one_to_four(service: Service) -> None:
    """A workflow call gets `variant` 1-4 and SUCCESS."""
    out = service.outputs(NAME, {})
    assert out["variant"] in {1, 2, 3, 4}
    assert out["hs_execution_state"] == "SUCCESS"


def test_sticky_key_gives_a_contact_the_same_variant_every_time(service: Service) -> None:
    """Re-enrolling a contact with the same sticky key (any case or spacing) keeps its variant."""
    keys = ["jordan@example.com", " Jordan@Example.com ", "JORDAN@EXAMPLE.COM"]
    variants = {service.outputs(NAME, {"sticky_key": key})["variant"] for key in keys}
    assert len(variants) == 1


def test_random_variants_are_uniform_across_executions(executor: Executor) -> None:
    """Over 4,000 separate executions each variant gets about 25 % (chi-square, p = 0.001)."""
    total = 4000

    def run(_: int) -> int:
        result = executor.run(CODE, {"inputFields": {}}, output_types={"variant": "number"})
        assert result.status is ExecutionStatus.SUCCESS, result.error
        assert result.output_fields is not None
        variant: int = result.output_fields["variant"]
        return variant

    with ThreadPoolExecutor(max_workers=4) as pool:
        counts = collections.Counter(pool.map(run, range(total)))
    assert set(counts) == {1, 2, 3, 4}
    assert chi_square(counts, total) < CHI_SQUARE_P001, counts


def test_sticky_variants_are_uniform_over_contacts(executor: Executor) -> None:
    """The snippet's sticky pick spreads 20,000 distinct contacts evenly over the four variants."""
    code = bulk_code(
        """
def main(event):
    counts = {1: 0, 2: 0, 3: 0, 4: 0}
    for n in range(20000):
        variant = pick({"inputFields": {"sticky_key": "contact-{}@example.com".format(n)}})
        counts[variant["outputFields"]["variant"]] += 1
    return {"outputFields": {str(k): v for k, v in counts.items()}}
"""
    )
    result = executor.run(code, {})
    assert result.status is ExecutionStatus.SUCCESS, result.error
    assert result.output_fields is not None
    counts = collections.Counter({int(k): v for k, v in result.output_fields.items()})
    assert chi_square(counts, 20000) < CHI_SQUARE_P001, counts


def test_experiment_reshuffles_sticky_variants(executor: Executor) -> None:
    """The same contacts land in different variants in a different experiment, stable within one."""
    code = bulk_code(
        """
def main(event):
    moved = 0
    for n in range(400):
        key = "contact-{}@example.com".format(n)
        a = pick({"inputFields": {"sticky_key": key, "experiment": "spring"}})
        b = pick({"inputFields": {"sticky_key": key, "experiment": "autumn"}})
        again = pick({"inputFields": {"sticky_key": key, "experiment": "spring"}})
        if a != again:
            return {"outputFields": {"unstable": key}}
        if a != b:
            moved += 1
    return {"outputFields": {"moved": moved}}
"""
    )
    result = executor.run(code, {})
    assert result.status is ExecutionStatus.SUCCESS, result.error
    assert result.output_fields is not None
    # A fresh uniform split moves 3/4 of contacts: about 300 of 400.
    assert 240 <= result.output_fields["moved"] <= 360, result.output_fields
