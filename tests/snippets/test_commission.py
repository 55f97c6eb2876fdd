"""The commission snippet through the service, reading deals, line items and products from a
fake HubSpot with the real hubspot client."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from sandbox import ExecutionStatus, Executor
from tests.fakes.hubspot import FakeHubSpot, Scripted
from tests.snippets.conftest import HS_TOKEN, SNIPPETS, Service, manifest

NAME = "commission"


def deal(
    hubspot: FakeHubSpot, amount: str = "0", items: Sequence[tuple[str, str | None]] = ()
) -> str:
    """A deal with line items of (amount, product category or None for no product)."""
    deal_id = hubspot.add_object("deals", {"dealname": "Northwind renewal", "amount": amount})
    for line_amount, category in items:
        properties = {"name": "item", "amount": line_amount, "quantity": "1", "price": line_amount}
        if category is not None:
            properties["hs_product_id"] = hubspot.add_object(
                "products", {"name": f"{category} product", "product_category": category}
            )
        hubspot.associate(
            "deals", deal_id, "line_items", hubspot.add_object("line_items", properties)
        )
    return deal_id


def commission(service: Service, deal_id: str, **inputs: Any) -> dict[str, Any]:
    return service.outputs(NAME, inputs, object_id=deal_id, object_type="DEAL")


def test_rates_are_tiered_above_fifty_thousand(service: Service) -> None:
    """5 % of the first 50,000 and 8 % of the rest: 80,000 of software earns 4,900."""
    out = commission(service, deal(service.hubspot, "80000", [("80000", "Software")]))
    assert out["commission_amount"] == 4900
    assert out["partner_commission_amount"] == 0
    assert out["commission_rate_effective"] == 6.125
    assert out["calculation_note"] == "1 line item totalling 80000; total commission 4900.00"
    assert out["hs_execution_state"] == "SUCCESS"


def test_a_deal_up_to_fifty_thousand_earns_five_percent(service: Service) -> None:
    """Exactly at the tier boundary the whole amount is at 5 %."""
    out = commission(service, deal(service.hubspot, "50000", [("50000", "software")]))
    assert (out["commission_amount"], out["commission_rate_effective"]) == (2500, 5)


def test_category_multipliers_weight_each_line_item(service: Service) -> None:
    """Services count at half: 60k software + 20k services earn 4,900 x 70/80 = 4,287.50."""
    items = [("60000", "software"), ("20000", "services")]
    out = commission(service, deal(service.hubspot, "80000", items))
    assert out["commission_amount"] == 4287.5
    assert out["commission_rate_effective"] == 5.3594


def test_partner_split_comes_out_of_the_total(service: Service) -> None:
    """A 20 % partner split gives the partner 980 of 4,900 and the owner 3,920."""
    deal_id = deal(service.hubspot, "80000", [("80000", "software")])
    out = commission(service, deal_id, partner_split_percent="20")
    assert (out["commission_amount"], out["partner_commission_amount"]) == (3920, 980)
    assert "partner split 20%" in out["calculation_note"]


def test_money_is_rounded_half_up_to_cents_and_shares_add_up(service: Service) -> None:
    """5 % of 100.10 is 5.005 -> 5.01 (not banker's 5.00); a 50 % split gives 2.51 + 2.50."""
    deal_id = deal(service.hubspot, "100.10", [("100.10", "software")])
    assert commission(service, deal_id)["commission_amount"] == 5.01
    out = commission(service, deal_id, partner_split_percent="50")
    assert (out["partner_commission_amount"], out["commission_amount"]) == (2.51, 2.5)


def test_zero_amount_deal_earns_no_commission(service: Service) -> None:
    """A deal of 0 without line items earns 0 at a 0 % rate, and the note says why."""
    out = commission(service, deal(service.hubspot, "0"))
    assert out["commission_amount"] == 0
    assert out["partner_commission_amount"] == 0
    assert out["commission_rate_effective"] == 0
    assert out["calculation_note"].startswith("no line items; used the deal amount 0")


def test_deal_without_line_items_uses_the_deal_amount(service: Service) -> None:
    """No line items: the deal's amount at the standard multiplier (5 % of 10,000 = 500)."""
    out = commission(service, deal(service.hubspot, "10000"))
    assert (out["commission_amount"], out["commission_rate_effective"]) == (500, 5)
    assert "no line items" in out["calculation_note"]


def test_unknown_or_missing_category_counts_fully_and_is_noted(service: Service) -> None:
    """A product category without a multiplier, or no product, counts at 1.0 and is named."""
    items = [("1000", "consulting"), ("1000", None)]
    out = commission(service, deal(service.hubspot, "2000", items))
    assert out["commission_amount"] == 100
    assert "has 'consulting' category, counted at 1.0" in out["calculation_note"]
    assert "has no category, counted at 1.0" in out["calculation_note"]


def test_a_deal_with_over_a_hundred_line_items_is_read_in_batches(service: Service) -> None:
    """120 line items are read in two batches of at most 100, all counted (120,000 earns 8,100)."""
    deal_id = deal(service.hubspot, "120000", [("1000", "software")] * 120)
    before = len(service.hubspot.requests_to("POST", "/crm/v3/objects/line_items/batch/read"))
    out = commission(service, deal_id)
    assert out["commission_amount"] == 8100
    reads = service.hubspot.requests_to("POST", "/crm/v3/objects/line_items/batch/read")[before:]
    assert [len(r.json["inputs"]) for r in reads] == [100, 20]


def test_unknown_deal_fails_with_a_clear_message(service: Service) -> None:
    """A deal HubSpot does not know fails the action (FAIL_CONTINUE) saying it was not found."""
    out = service.call(NAME, {}, object_id=987654, object_type="DEAL").json()["outputFields"]
    assert out["hs_execution_state"] == "FAIL_CONTINUE"
    assert "deal 987654 was not found in HubSpot (404)" in out["errorMessage"]


@pytest.mark.parametrize("split", ["abc", "120", "-5", "NaN"])
def test_bad_partner_split_fails_naming_the_field(service: Service, split: str) -> None:
    """A partner split that is not a percentage fails the action and quotes the value."""
    deal_id = deal(service.hubspot, "1000")
    out = service.call(NAME, {"partner_split_percent": split}, object_id=deal_id).json()
    assert out["outputFields"]["hs_execution_state"] == "FAIL_CONTINUE"
    message = out["outputFields"]["errorMessage"]
    assert "'partner_split_percent' must be a number from 0 to 100" in message
    assert repr(split) in message


def test_hubspot_rate_limit_answers_429_so_hubspot_retries(service: Service) -> None:
    """A HubSpot 429 is not swallowed: the hook answers 429 with Retry-After."""
    deal_id = deal(service.hubspot, "1000")
    service.hubspot.script(
        "GET", f"/crm/v3/objects/deals/{deal_id}", Scripted(429, headers={"Retry-After": "5"})
    )
    response = service.call(NAME, {}, object_id=deal_id, object_type="DEAL")
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "5"


def test_granted_hstoken_authenticates_the_hubspot_client(service: Service) -> None:
    """The service hands the snippet its hstoken; the hubspot client sends it as `Bearer`."""
    deal_id = deal(service.hubspot, "1000", [("1000", "software")])
    assert commission(service, deal_id)["commission_amount"] == 50
    reads = service.hubspot.requests_to("GET", f"/crm/v3/objects/deals/{deal_id}")
    assert reads[-1].headers["authorization"] == f"Bearer {HS_TOKEN}"


def test_refused_hstoken_fails_naming_the_secret(service: Service, executor: Executor) -> None:
    """A token HubSpot refuses (401) fails the run with a message pointing at the hstoken secret."""
    deal_id = deal(service.hubspot, "1000")
    result = executor.run(
        (SNIPPETS / "commission.py").read_text(),
        {"object": {"objectId": int(deal_id), "objectType": "DEAL"}, "inputFields": {}},
        secrets={"hstoken": "pat-na1-revoked"},
        output_types=manifest()[NAME]["outputFields"],
        egress={"overrides": {"api.hubapi.com": service.hubspot.url}},
    )
    assert result.status is ExecutionStatus.ERROR
    assert result.error is not None
    assert "HubSpot refused the token (401): check the hstoken secret" in result.error.message
