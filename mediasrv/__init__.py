"""mediasrv: media library and courseware distribution server."""

__version__ = "0.1.0"
