"""Filon's project package: settings, the database, the shared record, the blob store, custody."""

__version__ = "0.1.0"
