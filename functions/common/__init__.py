"""What the API (functions/api) and the GPU endpoint container (functions/endpoint) share: the error type and
its one body shape, the request-body guard and error handlers, the limits on texts, and how scores become
ranked labels. Imports only the core."""
