"""``tessera-serve http``: the HTTP service over serving's Python API (DESIGN.md section 8).

Needs the ``http`` extra (FastAPI, uvicorn, prometheus-client): ``tessera-serving[http]``.
"""
