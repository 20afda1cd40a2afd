"""The local web UI: an HTTP server on 127.0.0.1 inside the service.

`server.WebServer` listens and checks the token; `api` answers the JSON
endpoints from the store; `files` streams blobs; `pages` renders the HTML
skeletons that ``static/app.js`` fills in. See docs/web-ui.md.
"""
