"""traymail: a POP3 mail notifier for the system tray."""

__version__ = "0.1.0"
