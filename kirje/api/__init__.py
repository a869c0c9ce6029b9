"""HTTP entry points: one package per dialect, plus the shared auth and app assembly."""
