"""Pure domain: documents, spaces, versions, query plans, fusion math. No I/O."""
