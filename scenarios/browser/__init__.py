"""The browser suite: several synthetic patients drive the clinic's real pages in Chromium at once.

The incident surfaced on a rendered list page (the Recordings subsection of the user's own
profile), so this suite judges what a browser actually rendered, text and attributes, rather than
the JSON behind it. Playwright drives Debian's Chromium; each user gets their own browser context.
"""
