"""LianaMailer REST (v1 positional JSON methods): translation only, rules live in services/."""
