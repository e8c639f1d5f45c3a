"""Entry point: `python -m tessera_worker` (the server adds this folder's parent to PYTHONPATH).

The server opens a socket pair and hands one end to this process as file descriptor 3; frames
travel there (wire.py), so the model's own prints on stdout and stderr stay log lines.
"""
import asyncio
import sys

from .worker import main

if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
