"""Model backends behind one interface (base.py); each imports its heavy libraries only when it loads a model."""
