"""cmdesk: the desktop edition of Induxsoft's Cuenta Maestra distributor portal, and its server."""

__version__ = "0.1.0"
