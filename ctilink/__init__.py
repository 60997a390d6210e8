"""ctilink: CTI middleware for FreeSWITCH call centres."""

from ctilink.events import *  # noqa: F401,F403  (public API: the typed events)

__version__ = "0.1.0"
