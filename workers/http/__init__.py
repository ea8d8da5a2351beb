"""The HTTP API of `finsent serve`: one FastAPI app (uvicorn), bearer-token scopes, pluggable routers.

- `app.create_app(context, routers)`: the app; `routes.DEFAULT_ROUTERS` are mounted unless others
  are given, and more can be added (`app.include_router(router)`) before it serves;
- `context.AppContext`: what handlers use (settings, engine, tokens, metrics registry, ingest),
  reached from a request with `context.app_context(request)`;
- `auth.require_scope("read")`: the dependency that authenticates a request and checks a scope
  (401 without a valid token, 403 without the scope);
- `limits.RequestLimits`: body size, Content-Length and read deadline for every request;
- `server`: uvicorn with a header-read timeout (`serve`, and `ServerThread` for tests).
"""

from workers.http.app import create_app
from workers.http.auth import require_scope
from workers.http.context import AppContext, app_context

__all__ = ["AppContext", "app_context", "create_app", "require_scope"]
