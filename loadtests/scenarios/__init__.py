"""Locust user classes of the load test, one module per kind of user (see ../locustfile.py)."""
