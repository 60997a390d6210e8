"""The HTTP API (v1): route table, auth, bodies, OpenAPI. See :mod:`ctilink.service.http`."""

from ctilink.service.api.activity import Activity
from ctilink.service.api.context import ApiContext
from ctilink.service.api.framework import ApiError, Route, Stream
from ctilink.service.api.routes import routes

__all__ = ["Activity", "ApiContext", "ApiError", "Route", "Stream", "routes"]
