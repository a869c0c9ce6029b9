"""LianaMailer v1 methods, one module per section of the seed; routes.py names them."""
