"""The domain: plain dataclasses and rules, no I/O."""
