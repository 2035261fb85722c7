"""Tk windows. Only the Tk thread touches Tk; engine work runs in worker
threads and comes back through a queue polled with ``after()``."""
