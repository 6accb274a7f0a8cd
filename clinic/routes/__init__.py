"""HTTP routers: JSON API, pages and the staging support API.

Reads (every GET that writes nothing) are `async def`, so they run on the server's event loop:
a plain `def` endpoint costs a hop to a worker thread and back, with a GIL handoff each way,
and taking the hop away cut the clinic's CPU by about a seventh (switch+access, 20 patients).
A read here is a few short SQLite queries, so holding the loop for it is cheaper than the hop.
Everything that writes, sleeps or must overlap with another request (a switch's media
negotiation, which the race faults need to interleave; logins; the support API) stays a plain
`def` in the worker threads. `tests/clinic/test_routes.py` keeps both halves of that rule.
"""
