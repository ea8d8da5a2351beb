"""Transports that yield source items: feeds, archive files, stdin, HTTP push."""
