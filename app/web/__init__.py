"""The gateway's web pages, served as static files."""
