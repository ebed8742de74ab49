// IRFormat: see docs/ARCHITECTURE.md
