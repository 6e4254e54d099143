"""What the functions share: for the API (functions/api) and the GPU endpoint container (functions/endpoint), the
error type and its one body shape, the request-body guard and error handlers, the limits on texts, and how scores
become ranked labels; for `golive feedback export` and the daily export job (functions/feedback_export), the
feedback readers and the join that makes training rows. Imports only the core."""
