"""Use cases. Each public method is one transaction; no dialect vocabulary here."""
