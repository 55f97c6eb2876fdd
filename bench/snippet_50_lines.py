# A 50-line snippet of the commission kind: parsing, Decimal maths, helpers, a class, logging.
import json
import logging
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal

logger = logging.getLogger()

TIERS = [
    (Decimal("50000"), Decimal("0.05")),
    (Decimal("150000"), Decimal("0.08")),
    (None, Decimal("0.10")),
]
MULTIPLIERS = {"gold": Decimal("1.2"), "silver": Decimal("1.1"), "bronze": Decimal("1.0")}


class Ledger:
    def __init__(self):
        self.total = Decimal("0")
        self.lines = []

    def add(self, label, amount):
        self.total += amount
        self.lines.append(f"{label}: {amount:,.2f}")


def tiered(amount):
    ledger = Ledger()
    lower = Decimal("0")
    for upper, rate in TIERS:
        top = amount if upper is None else min(amount, upper)
        if top > lower:
            ledger.add(f"tier {rate}", (top - lower) * rate)
        if upper is None or amount <= upper:
            break
        lower = upper
    return ledger


def main(event):
    fields = event.get("inputFields", {})
    amount = Decimal(str(fields.get("amount", "0")))
    tier = (fields.get("tier") or "bronze").lower()
    ledger = tiered(amount)
    commission = (ledger.total * MULTIPLIERS.get(tier, Decimal("1"))).quantize(
        Decimal("0.01"), rounding=ROUND_HALF_UP
    )
    logger.info("commission %s for %s", commission, json.dumps(ledger.lines))
    return {
        "outputFields": {
            "commission_amount": float(commission),
            "calculated_at": datetime.now(UTC).isoformat(),
            "note": "; ".join(ledger.lines),
        }
    }
