"""Software: Induxsoft's products and their downloads. Importing the package registers the page."""

from cmdesk.ui import tabs
from cmdesk.ui.software.page import SoftwarePage

__all__ = ["SoftwarePage"]

tabs.register("software", SoftwarePage)
