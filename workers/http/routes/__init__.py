"""The routers of the app; each module exposes `router` (an `APIRouter`)."""

from fastapi import APIRouter

from workers.http.routes import ingest, ops

DEFAULT_ROUTERS: tuple[APIRouter, ...] = (ops.router, ingest.router)
"""Mounted by `create_app` unless told otherwise; the read API and the dashboard add theirs."""

__all__ = ["DEFAULT_ROUTERS"]
