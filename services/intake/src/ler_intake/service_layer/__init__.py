"""service_layer layer of the intake service."""
