"""The HTTP edge: what stands between the network and the application.

- `serve.py`: `serve(app, settings)`, uvicorn with the edge, and the shutdown deadline;
- `protocol.py`: `EdgeProtocol`, uvicorn's httptools protocol with limits on the request head,
  timeouts on slow clients, and problems for its refusals;
- `connections.py`: the cap on open connections, which evicts idle ones to make room;
- `limits.py`: the limits, from the settings and the open-file limit, which it raises.

`python -m app` (and so the container image) serves through `serve`. ``uvicorn app.main:app``
run by hand serves the same application without any of this (docs/operations.md).
"""
