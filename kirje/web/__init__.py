"""What browsers load from Kirje directly: the site-tracking script and its collection endpoint."""
