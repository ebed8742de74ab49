// IRRuntime: see docs/ARCHITECTURE.md
