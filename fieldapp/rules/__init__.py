"""Pure domain rules: no Flask, no database. Each module states its rules in docstrings and is unit-tested directly."""
