"""HTTP routers: JSON API, pages and the staging support API."""
