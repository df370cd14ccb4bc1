"""The webhook notifier: reads the alerts topic and delivers matching events to HTTP endpoints."""
