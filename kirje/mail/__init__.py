"""Mail: rendering, MIME, DKIM, transports."""
