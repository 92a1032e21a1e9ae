"""compute/runners."""
