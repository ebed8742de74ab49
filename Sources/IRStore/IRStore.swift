// IRStore: see docs/ARCHITECTURE.md
