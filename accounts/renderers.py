"""The API's JSON renderer (REST_FRAMEWORK's DEFAULT_RENDERER_CLASSES).

DRF writes UTF-8 without escapes, so an error that echoes a lone surrogate from the request ("\\ud800" is not a
valid choice) could not be encoded and became a 500. Such a body is written with ASCII escapes instead.
"""

from rest_framework import renderers


class JSONRenderer(renderers.JSONRenderer):
    """DRF's JSONRenderer; a response holding text that is not valid Unicode is sent with ASCII escapes."""

    def render(self, data, accepted_media_type=None, renderer_context=None):
        try:
            return super().render(data, accepted_media_type, renderer_context)
        except UnicodeEncodeError:
            self.ensure_ascii = True  # a renderer serves one response
            return super().render(data, accepted_media_type, renderer_context)
