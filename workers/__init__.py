"""Celery application and thin task wrappers around mediasrv domain functions."""
