"""Data: the dataset folder layout, bank imports, the simulator, uploads to the lake."""
