"""Tessera's Python worker: serves MLServer runtimes, unchanged, for the Node server.

See docs/python-runtimes.md for the wire format and docs/adr/0015-python-worker.md for why.
"""
