"""Everything that talks to merchants' systems: the generic connector machinery
(`connections`) and one domain app per kind of system (`crm`, `pos`, `erp`),
each holding one sub-package per vendor."""
