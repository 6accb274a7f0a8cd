"""Flag backends: a real Unleash server or a local JSON file, behind one small protocol."""

from flags.backends.base import BackendEvent, FlagBackend, FlagState

__all__ = ["BackendEvent", "FlagBackend", "FlagState"]
