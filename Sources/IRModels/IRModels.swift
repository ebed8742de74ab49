// IRModels: see docs/ARCHITECTURE.md
