"""Channels: one module per way a notification can leave (base.py says what each must do)."""
