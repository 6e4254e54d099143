"""The `golive` command: a parser, and one module per layer it drives (train, serve, package, synth, costs),
each importing that layer only when its command runs. Nothing imports this package; it imports every layer."""
