"""Market products: each module adds its objective terms (and later, reserved headroom)."""
