# Compute the sales commission for a closed-won deal from its line items.
#
# What it does: reads the enrolled deal, its line items and their products (with the product's
# commission category) through the HubSpot API, and computes the commission:
#   - tiered on the deal's commissionable amount: 5 % of the first 50,000, 8 % of the rest;
#   - weighted per line item by its product category (software 1.0, services 0.5, ...);
#   - split with a partner when partner_split_percent is given (the partner's share comes out
#     of the total; the owner keeps the rest).
# All money is Decimal, rounded half-up to cents. A deal without line items uses the deal's
# amount at the standard multiplier (and says so in calculation_note).
#
# Inputs (Property to include in code):
#   partner_split_percent  optional, number 0-100 - the partner's share of the commission.
# The deal itself is the enrolled record (its ID comes with the event).
#
# Secrets:
#   hstoken  a HubSpot private app token with crm.objects.deals.read, crm.objects.line_items.read
#            and e-commerce (products) read scopes.
#
# Outputs (Data outputs):
#   commission_amount          number - the owner's commission, e.g. 3250.00.
#   partner_commission_amount  number - the partner's commission (0 without a partner split).
#   commission_rate_effective  number - total commission / commissionable amount, in percent
#                              (e.g. 5.75); the branch "High commission?" checks
#                              "commission_rate_effective is greater than 7" and asks a sales
#                              manager to approve.
#   calculation_note           string - how it was computed, for the deal's timeline/notes.

import os
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

import hubspot
from hubspot.crm.associations.v4 import ApiException as AssociationsError
from hubspot.crm.deals import ApiException as DealsError
from hubspot.crm.line_items import ApiException as LineItemsError
from hubspot.crm.line_items import BatchReadInputSimplePublicObjectId as LineItemIds
from hubspot.crm.products import ApiException as ProductsError
from hubspot.crm.products import BatchReadInputSimplePublicObjectId as ProductIds

# Each hubspot.crm.* package raises its own ApiException class.
HUBSPOT_ERRORS = (DealsError, AssociationsError, LineItemsError, ProductsError)

CENTS = Decimal("0.01")
TIERS = [
    # (up to this amount, rate); None means "and everything above".
    (Decimal("50000"), Decimal("0.05")),
    (None, Decimal("0.08")),
]
CATEGORY_MULTIPLIERS = {
    "software": Decimal("1.0"),
    "subscription": Decimal("1.0"),
    "services": Decimal("0.5"),
    "training": Decimal("0.5"),
    "hardware": Decimal("0.25"),
}
DEFAULT_MULTIPLIER = Decimal("1.0")
CATEGORY_PROPERTY = "product_category"


def main(event):
    inputs = event.get("inputFields") or {}
    deal_id = str((event.get("object") or {}).get("objectId") or inputs.get("hs_object_id") or "")
    if not deal_id.isdigit():
        raise ValueError("no deal ID in the event: run this action in a deal-based workflow")
    split = partner_split(inputs.get("partner_split_percent"))

    token = os.getenv("hstoken")
    if not token:
        print("warning: the hstoken secret is not granted to this action; HubSpot will refuse")
    client = hubspot.Client.create(access_token=token)
    try:
        deal = client.crm.deals.basic_api.get_by_id(deal_id, properties=["amount", "dealname"])
        items = line_items(client, deal_id)
        categories = product_categories(client, items)
    except HUBSPOT_ERRORS as exc:
        if exc.status == 429:
            raise  # rate-limited: Codehook answers 429 and HubSpot retries the action later
        raise RuntimeError(hubspot_problem(exc, deal_id)) from None

    notes = []
    if items:
        lines = []
        for item in items:
            amount = money(item.properties.get("amount"), "line item " + str(item.id) + " amount")
            category = categories.get(item.properties.get("hs_product_id") or "", "")
            multiplier = CATEGORY_MULTIPLIERS.get(category)
            if multiplier is None:
                notes.append(
                    "line item {} has {} category, counted at {}".format(
                        item.id, repr(category) if category else "no", DEFAULT_MULTIPLIER
                    )
                )
                multiplier = DEFAULT_MULTIPLIER
            lines.append((amount, multiplier))
        basis = sum((amount for amount, multiplier in lines), Decimal("0"))
        weighted = sum((amount * multiplier for amount, multiplier in lines), Decimal("0"))
        noun = "line item" if len(lines) == 1 else "line items"
        notes.insert(0, "{} {} totalling {}".format(len(lines), noun, basis))
    else:
        basis = money(deal.properties.get("amount") or "0", "deal amount")
        weighted = basis * DEFAULT_MULTIPLIER
        notes.insert(0, "no line items; used the deal amount {}".format(basis))

    if basis < 0:
        raise ValueError("the deal's commissionable amount is negative ({})".format(basis))
    if basis == 0:
        total = Decimal("0")
        rate = Decimal("0")
    else:
        # Tiers apply to the whole deal; category multipliers then weight each line's share.
        total = tiered(basis) * weighted / basis
        rate = total / basis * 100
    total = total.quantize(CENTS, rounding=ROUND_HALF_UP)
    partner = (total * split / 100).quantize(CENTS, rounding=ROUND_HALF_UP)
    owner = total - partner  # the two shares always add up to the rounded total
    if split:
        notes.append("partner split {}%".format(split))
    notes.append("total commission {}".format(total))
    note = "; ".join(notes)
    print(note)
    return {
        "outputFields": {
            "commission_amount": owner,
            "partner_commission_amount": partner,
            "commission_rate_effective": rate.quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP),
            "calculation_note": note,
        }
    }


def tiered(amount):
    """The commission on `amount` before category multipliers: each tier's rate on its slice."""
    commission = Decimal("0")
    floor = Decimal("0")
    for ceiling, rate in TIERS:
        top = amount if ceiling is None else min(amount, ceiling)
        if top > floor:
            commission += (top - floor) * rate
        if ceiling is None or amount <= ceiling:
            break
        floor = ceiling
    return commission


def line_items(client, deal_id):
    """The deal's line items, in ID order (all pages of associations, batches of 100)."""
    ids = []
    after = None
    while True:
        page = client.crm.associations.v4.basic_api.get_page(
            "deals", deal_id, "line_items", after=after, limit=500
        )
        ids.extend(str(result.to_object_id) for result in page.results)
        if not page.paging or not page.paging.next:
            break
        after = page.paging.next.after
    properties = ["name", "amount", "quantity", "price", "hs_product_id"]
    items = batch_read(client.crm.line_items.batch_api, LineItemIds, ids, properties)
    return sorted(items, key=lambda item: int(item.id))


def product_categories(client, items):
    """Product ID -> its category (lower case, "" when unset)."""
    ids = sorted({item.properties.get("hs_product_id") for item in items} - {None, ""})
    products = batch_read(
        client.crm.products.batch_api, ProductIds, ids, ["name", CATEGORY_PROPERTY]
    )
    return {
        product.id: (product.properties.get(CATEGORY_PROPERTY) or "").strip().lower()
        for product in products
    }


def batch_read(api, model, ids, properties):
    results = []
    for start in range(0, len(ids), 100):  # HubSpot reads at most 100 records per batch
        chunk = ids[start : start + 100]
        batch = api.read(model(inputs=[{"id": i} for i in chunk], properties=properties))
        results.extend(batch.results)
    return results


def partner_split(value):
    if value in (None, ""):
        return Decimal("0")
    try:
        split = Decimal(str(value).strip().rstrip("%"))
    except InvalidOperation:
        split = None
    if split is None or not split.is_finite() or not 0 <= split <= 100:
        raise ValueError(
            "input field 'partner_split_percent' must be a number from 0 to 100, got {}".format(
                repr(value)
            )
        )
    return split


def money(value, what):
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        amount = None
    if amount is None or not amount.is_finite():
        raise ValueError("{} is not a number: {}".format(what, repr(value)))
    return amount


def hubspot_problem(exc, deal_id):
    if exc.status == 401:
        return "HubSpot refused the token (401): check the hstoken secret (a private app token)"
    if exc.status == 403:
        return (
            "the hstoken private app lacks a scope (403): "
            "it needs deals, line items and products read"
        )
    if exc.status == 404:
        return "deal {} was not found in HubSpot (404)".format(deal_id)
    return "HubSpot API error {} while reading deal {}".format(exc.status, deal_id)
