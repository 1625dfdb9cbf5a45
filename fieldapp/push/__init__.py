"""The items of a push (docs/sync-protocol.md), below the protocol in fieldapp/sync.py: what one
push knows (context), its refusals (errors), the web forms' rules fed from JSON (forms), what
each operation does (operations) and the bulk path for runs of new records (bulk)."""
