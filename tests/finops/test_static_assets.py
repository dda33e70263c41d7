"""Static files in production: collected under hashed names, served compressed and cacheable for years.

The test settings serve static files from the finders, uncompressed; here the production storage collects into a
temporary STATIC_ROOT and a fresh WSGI handler (so whitenoise reads that root) answers as gunicorn's would.
"""

import io
import shutil
import tempfile
from pathlib import Path

from django.conf import settings
from django.contrib.staticfiles.storage import staticfiles_storage
from django.core.handlers.wsgi import WSGIHandler
from django.core.management import call_command
from django.test import SimpleTestCase, override_settings

PRODUCTION_STORAGE = "whitenoise.storage.CompressedManifestStaticFilesStorage"
YEAR = 365 * 24 * 3600


class ProductionStaticFilesTests(SimpleTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.root = tempfile.mkdtemp(prefix="static-")
        cls.addClassCleanup(shutil.rmtree, cls.root, ignore_errors=True)
        production = override_settings(
            DEBUG=False,
            STATIC_ROOT=cls.root,
            STORAGES={**settings.STORAGES, "staticfiles": {"BACKEND": PRODUCTION_STORAGE}},
            WHITENOISE_USE_FINDERS=False,
            WHITENOISE_AUTOREFRESH=False,
        )
        production.enable()
        cls.addClassCleanup(production.disable)
        call_command("collectstatic", interactive=False, verbosity=0)
        cls.app = WSGIHandler()  # its middleware, whitenoise's included, is built now: it indexes the new root
        cls.plotly = staticfiles_storage.url("plotly/plotly.min.js")  # what {% static %} writes in the pages
        cls.raw_plotly = (Path(settings.PLOTLY_JS_DIR) / "plotly.min.js").stat().st_size

    def get(self, path, accept_encoding):
        """(status, headers, body bytes as sent) of a GET through the WSGI application."""
        answer = {}

        def start_response(status, headers, exc_info=None):
            answer["status"], answer["headers"] = int(status.split()[0]), dict(headers)

        environ = {
            "REQUEST_METHOD": "GET",
            "PATH_INFO": path,
            "QUERY_STRING": "",
            "SERVER_NAME": "testserver",
            "SERVER_PORT": "80",
            "HTTP_HOST": "testserver",
            "HTTP_ACCEPT_ENCODING": accept_encoding,
            "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(),
            "wsgi.errors": io.StringIO(),
        }
        chunks = self.app(environ, start_response)
        try:
            body = b"".join(chunks)
        finally:
            getattr(chunks, "close", lambda: None)()
        return answer["status"], answer["headers"], body

    def test_it_links_plotly_under_a_hashed_name(self):
        self.assertRegex(self.plotly, r"^/static/plotly/plotly\.min\.[0-9a-f]{12}\.js$")

    def test_it_serves_plotly_compressed_with_a_long_cache_life(self):
        status, headers, body = self.get(self.plotly, "gzip, br")
        self.assertEqual(status, 200)
        self.assertIn(headers.get("Content-Encoding"), ("br", "gzip"))
        self.assertEqual(int(headers["Content-Length"]), len(body))
        self.assertLess(len(body), 0.35 * self.raw_plotly, f"{len(body):,} bytes for {self.raw_plotly:,}")
        self.assertIn("Accept-Encoding", headers.get("Vary", ""))
        cache = headers.get("Cache-Control", "")
        self.assertIn("immutable", cache)
        max_age = int(cache.split("max-age=")[1].split(",")[0])
        self.assertGreaterEqual(max_age, YEAR)

    def test_it_serves_gzip_to_a_client_without_brotli(self):
        status, headers, body = self.get(self.plotly, "gzip")
        self.assertEqual((status, headers.get("Content-Encoding")), (200, "gzip"))
        self.assertLess(len(body), 0.35 * self.raw_plotly)

    def test_it_serves_the_bytes_themselves_to_a_client_that_asks_for_no_encoding(self):
        status, headers, body = self.get(self.plotly, "")
        self.assertEqual(status, 200)
        self.assertNotIn("Content-Encoding", headers)
        self.assertEqual(len(body), self.raw_plotly)

    def test_it_serves_the_stylesheet_compressed_with_a_long_cache_life(self):
        status, headers, body = self.get(staticfiles_storage.url("css/app.css"), "gzip, br")
        self.assertEqual(status, 200)
        self.assertIn(headers.get("Content-Encoding"), ("br", "gzip"))
        self.assertLess(len(body), (Path(settings.BASE_DIR) / "static/css/app.css").stat().st_size / 2)
        self.assertIn("immutable", headers.get("Cache-Control", ""))

    def test_it_collects_plotly_alone_from_the_plotly_package(self):
        collected = {p.name for p in (Path(self.root) / "plotly").iterdir()}
        self.assertTrue(collected)
        # What keeps collectstatic quick is that it compresses plotly.min.js alone, not the package's hundreds of
        # files: checked by what is collected, not by a time (a loaded machine is slow, not wrong).
        self.assertTrue(all(name.startswith("plotly.min.") for name in collected), collected)
