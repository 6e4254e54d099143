"""The scheduled export of labelled feedback into the data bucket (handler.py; infra/constructs/feedback_export.py
runs it daily)."""
