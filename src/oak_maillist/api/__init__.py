"""The HTTP edge: FastAPI routers, dependencies, error mapping, health and metrics."""
