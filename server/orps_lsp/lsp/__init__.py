"""The language server layer: pygls handlers around the ORPS engine (see server.py)."""
