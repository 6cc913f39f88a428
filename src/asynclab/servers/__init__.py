"""Local demo servers on 127.0.0.1, each in a background thread with its own event loop."""

from .api import USERS, DemoAPI, profile_record, user_record
from .asgi import ASGIServer
from .base import BackgroundServer, Request, ServerStats, stop_all_servers
from .site import DemoSite
from .ws import DemoWebSocketServer

__all__ = ["USERS", "ASGIServer", "BackgroundServer", "DemoAPI", "DemoSite", "DemoWebSocketServer",
           "Request", "ServerStats", "profile_record", "stop_all_servers", "user_record"]
