"""Code-list facts for the UBL document, kept as data in one place.

- FIRS tax category ids ↔ UNCL5305 duty/tax category codes. This is the ONE
  table both directions use.
- UNTDID 1001 document type codes for the UBL document. The UBL follows UNTDID
  (380 commercial invoice, 381 credit note) because the EN 16931 schematron
  checks those lists (BR-CL-01); FIRS's JSON uses its own, swapped, codes
  (see `invoicing.firs.payload.FIRS_INVOICE_TYPE_CODES`).
"""
from invoicing import canonical as c

# FIRS tax category id -> UNCL5305 code.
FIRS_TO_UNCL5305 = {
    c.STANDARD_VAT: "S",
    c.ZERO_VAT: "Z",
    c.EXEMPTED: "E",
}
UNCL5305_TO_FIRS = {v: k for k, v in FIRS_TO_UNCL5305.items()}

# UNTDID 1001 codes of the UBL document.
UNTDID_1001 = {
    c.INVOICE: "380",  # Commercial invoice
    c.CREDIT_NOTE: "381",  # Credit note
}

# EN 16931 core (what the schematron we run checks) and the Peppol BIS billing
# process. We do not claim the Peppol CIUS: it needs an EndpointID with an EAS
# scheme, and no EAS scheme exists for a Nigerian TIN.
CUSTOMIZATION_ID = "urn:cen.eu:en16931:2017"
PROFILE_ID = "urn:fdc:peppol.eu:2017:poacc:billing:01:1.0"

# The TIN is the seller's tax registration identifier (BT-32): PartyTaxScheme
# with a TaxScheme other than VAT. Under "VAT" EN 16931 (BR-CO-09) would demand
# an ISO country prefix, which Nigerian TINs do not have.
TIN_TAX_SCHEME = "TAX"
VAT_TAX_SCHEME = "VAT"

# UNTDID 7143 item classification list for classification_code (FIRS hsn_code).
ITEM_CLASSIFICATION_LIST = "HS"

# A B2C sale without a named buyer; EN 16931 requires a buyer name (BR-07).
WALK_IN_CUSTOMER_NAME = "Walk-in customer"

# EN 16931 requires a reason on every allowance and charge (BR-33, BR-38, BR-42,
# BR-44); used when the source gave none.
DEFAULT_ALLOWANCE_REASON = "Discount"
DEFAULT_CHARGE_REASON = "Charge"
