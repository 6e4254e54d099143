"""Constructs the API stack is built from, each one unit that can be synthesised (and tested) in a bare stack."""
