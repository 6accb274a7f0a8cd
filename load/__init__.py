"""The load suite: Locust drives the target in a subprocess while every response is leak-checked.

Only `load/locustfile.py` imports Locust, and only Locust itself ever imports that file (in its
own process), because importing Locust monkey-patches the whole interpreter with gevent.
"""
