"""UBL 2.1 documents: `builder` writes Invoice / CreditNote XML from a canonical
invoice and its totals; `validator` checks it against the UBL 2.1 XSD and the
EN 16931 schematron; `codes` holds the code-list mappings."""
