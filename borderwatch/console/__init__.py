"""The operations console: a live map page served by a small ASGI app (issue 8).

``serve_console`` (live, from MQTT) and ``serve_replay`` (a replay output directory)
are the entry points for ``borderwatch console``, ``run`` and ``demo``.
"""

from borderwatch.console.app import Basemap, ConsoleAssetsMissing
from borderwatch.console.server import serve_console, serve_replay

__all__ = ["Basemap", "ConsoleAssetsMissing", "serve_console", "serve_replay"]
