// IRRegistry: see docs/ARCHITECTURE.md
