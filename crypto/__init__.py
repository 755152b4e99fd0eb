"""Filon's cryptography: NaCl only, no Flask, no database.

Every format here is a contract (shared/DESIGN.md §3–§4): keys and fingerprints, password
key wrapping, sealed envelopes, the ``filon-stream/1`` file format, signatures and codenames.
"""
