"""Registers (DESIGN.md §7): mine sites, actors, chain links, and their importers."""
