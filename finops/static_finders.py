"""plotly.js for the chart pages, found in the installed plotly package (no CDN, no copy in the repository)."""

from django.conf import settings
from django.contrib.staticfiles.finders import BaseFinder
from django.core.files.storage import FileSystemStorage


class PlotlyFinder(BaseFinder):
    """Finds static/plotly/plotly.min.js in the plotly package, and nothing else of the package's data: its 5 MB
    widget bundle, data sets and templates would be collected, compressed and shipped for no page."""

    prefix = "plotly"
    names = ("plotly.min.js",)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.storage = FileSystemStorage(location=settings.PLOTLY_JS_DIR)
        self.storage.prefix = self.prefix

    def check(self, **kwargs):
        return []

    def find(self, path, find_all=False, **kwargs):
        prefix, _, name = path.partition("/")
        found = [self.storage.path(name)] if prefix == self.prefix and name in self.names else []
        return found if find_all or not found else found[0]

    def list(self, ignore_patterns):
        for name in self.names:
            yield name, self.storage
