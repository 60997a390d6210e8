"""Outbound campaigns: config, contacts import, calling windows, pacers and the campaign state machine.

See docs/dialer.md. The pacers (``pacer.py``, ``policies.py``) are pure library pieces; the
``Dialer`` is pure; ``runtime.CampaignEngine`` is the seam that drives it beside the core engine.
"""
