"""LianaMailer v3: GET resources with every parameter in the query string, answered without
the v1/v2 envelope."""
