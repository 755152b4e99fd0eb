"""The casework's views: thin handlers over the services in :mod:`casework`."""
