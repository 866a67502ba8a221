"""One module per command group; each decorates an app from :mod:`cartlens.cli.apps`."""
