"""The remote compute resource service (``chris-jupyter compute serve``), a pfcon-compatible server."""
