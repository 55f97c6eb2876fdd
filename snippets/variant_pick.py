# Pick one of four email variants, 25 % each.
#
# What it does: the workflow enrols a contact, this action picks variant 1, 2, 3 or 4 with
# equal chance, and the if/then branch after it sends the matching email version.
#
# Inputs (Property to include in code):
#   sticky_key  optional, string - e.g. the contact's email or record ID. When given, the same
#               contact always gets the same variant (a hash of the key, nothing stored), so
#               re-enrolling a contact does not switch its email version.
#   experiment  optional, string - e.g. "spring-promo". Mixed into the hash with sticky_key, so
#               each experiment splits contacts afresh (without it, a contact lands in the same
#               variant in every workflow that uses this action).
#
# Outputs (Data outputs):
#   variant     number (1-4) - the branch "Variant split" checks "variant is equal to 1/2/3/4"
#               and sends Email A/B/C/D.
#
# Secrets: none.

import hashlib
import random

VARIANTS = 4


def main(event):
    inputs = event.get("inputFields") or {}
    sticky_key = str(inputs.get("sticky_key") or "").strip().lower()
    experiment = str(inputs.get("experiment") or "").strip().lower()

    if sticky_key:
        # Same key -> same variant; sha256 spreads keys evenly over the four buckets.
        seed = experiment + ":" + sticky_key if experiment else sticky_key
        digest = hashlib.sha256(seed.encode("utf-8")).hexdigest()
        variant = int(digest[:8], 16) % VARIANTS + 1
        print("variant", variant, "picked from sticky key")
    else:
        variant = random.randint(1, VARIANTS)
        print("variant", variant, "picked at random")

    return {"outputFields": {"variant": variant}}
