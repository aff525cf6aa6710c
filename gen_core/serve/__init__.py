"""Serving a room: the job queue and its worker processes, classroom spaces, the demo set."""
