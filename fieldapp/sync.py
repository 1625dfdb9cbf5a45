"""The phone sync protocol lives here (issue #3): pull a work package and its deltas, push
batches of changes idempotently by client UUID. Writes go through fieldapp.records, whose
field-level merge (rules.merge) already settles concurrent edits."""
