"""Foundation helpers with no dependency on the rest of the package: async bridging, text, network."""
