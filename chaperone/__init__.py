"""The `chaperone` command: a thin shell that wires the layers together.

It is the only package allowed to import every layer (and the reference clinic). It holds no
logic of its own beyond parsing arguments, choosing reporters and mapping errors to exit codes.
"""
