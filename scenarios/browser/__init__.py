"""The browser suite: several synthetic users drive the target's real pages in Chromium at once.

The incident surfaced on a rendered list page (the Recordings subsection of the user's own
profile), so this suite judges what a browser actually rendered, text and attributes, rather than
the JSON behind it. Everything it knows about the pages (the login form, the control for each
flow, the pages each role reads) comes from the target profile's `browser:` section. Playwright
drives Debian's Chromium; each user gets their own browser context.

    plan.py      which scenarios run, which do not apply, who takes part
    flow.py      the run: lockstep phases, judging, coverage, cases
    user.py      one user in one context: log in, open, click
    dom.py       a rendered page as an Observation; outlining foreign rows
    listing.py   rows checked against their owner attribute
    evidence.py  screenshots and traces a finding carries
    calls.py     real calls (--media real): a Chromium per caller with fake devices
    launch.py    starting the system Chromium; errors.py  Playwright errors, translated
"""
